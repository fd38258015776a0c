import { createRoute, z } from '@hono/zod-openapi';
import type { Database } from '../db/client.js';
import { AppError } from '../errors.js';
import { ErrorEnvelopeSchema, errors, jsonContent, newRouter } from '../http/openapi.js';
import type { Logger } from '../lib/logger.js';
import { handleStripeEvent, verifyStripeEvent } from '../services/billing/stripe/webhooks.js';

export const STRIPE_WEBHOOK_PATH = '/v1/billing/webhooks/stripe';

const WebhookAck = z
  .object({
    received: z.literal(true),
    duplicate: z
      .boolean()
      .openapi({ description: 'This event id was handled before; nothing was done again' }),
    action: z.enum(['suspended', 'reinstated', 'downgraded', 'ignored']),
  })
  .openapi('StripeWebhookAck');

export interface BillingWebhookDeps {
  db: Database;
  logger: Logger;
  /** The endpoint's signing secret (whsec_…); without it the route answers 503. */
  webhookSecret: string | undefined;
}

/** Stripe calls this; it carries no bearer credential, its signature is the authentication. */
export function billingWebhookRoutes(deps: BillingWebhookDeps) {
  const route = createRoute({
    method: 'post',
    path: STRIPE_WEBHOOK_PATH,
    operationId: 'receiveStripeWebhook',
    security: [],
    tags: ['billing'],
    summary: 'Stripe only: payment and subscription events, verified by their Stripe-Signature',
    description:
      'invoice.payment_failed suspends the org, unless that invoice was paid already (Stripe delivers out of ' +
      'order); invoice.paid and invoice.payment_succeeded lift a suspension failed payments caused once no ' +
      'invoice that failed is unpaid; customer.subscription.deleted moves the org to the free plan. A ' +
      'redelivered event id changes nothing. The body is read as raw bytes: the signature covers them exactly.',
    responses: {
      200: jsonContent(WebhookAck, 'Verified and handled (or known already)'),
      503: {
        description: 'No webhook signing secret is configured (MERIDIAN_STRIPE_WEBHOOK_SECRET)',
        content: { 'application/json': { schema: ErrorEnvelopeSchema } },
      },
      ...errors(),
    },
  });
  return newRouter().openapi(route, async (c) => {
    if (!deps.webhookSecret) {
      throw new AppError('unavailable', 'Stripe webhooks are not configured on this control plane');
    }
    // Raw bytes, never parsed JSON: re-serialising would change what the signature covers.
    const raw = Buffer.from(await c.req.arrayBuffer());
    const event = verifyStripeEvent(raw, c.req.header('stripe-signature'), deps.webhookSecret);
    const outcome = await handleStripeEvent(deps.db, event, deps.logger);
    return c.json({ received: true as const, duplicate: outcome.duplicate, action: outcome.action }, 200);
  });
}
