import { createRoute, z } from '@hono/zod-openapi';
import { METERS } from '@meridian/protocol';
import type { Database } from '../db/client.js';
import { AppError, invalidField } from '../errors.js';
import { requireOperatorToken } from '../http/guards.js';
import { ErrorEnvelopeSchema, errors, jsonContent, newRouter } from '../http/openapi.js';
import type { Logger } from '../lib/logger.js';
import type { StripeGateway } from '../services/billing/stripe/gateway.js';
import { reconcile } from '../services/billing/stripe/reconcile.js';

const MAX_PERIOD_MS = 93 * 24 * 3_600_000;

const ReconciliationQuery = z.object({
  from: z.iso
    .datetime({ offset: true })
    .openapi({ description: 'Start of the period (widened to its UTC hour)' }),
  to: z.iso
    .datetime({ offset: true })
    .openapi({ description: 'End of the period, exclusive (widened to its UTC hour)' }),
});

const Row = z.object({
  orgId: z.string(),
  customerId: z.string().nullable(),
  meter: z.enum(METERS),
  ledger: z.number().openapi({ description: 'Billable units by the rounding rule' }),
  sent: z.number().openapi({ description: 'Units Stripe accepted from the outbox' }),
  pending: z.number().openapi({ description: 'Units waiting in the outbox' }),
  stripe: z.number().openapi({ description: 'Stripe’s meter event summary' }),
  drift: z
    .number()
    .openapi({ description: 'Stripe outside [sent, sent + pending]: by how much; 0 when consistent' }),
  notYetEnqueued: z
    .number()
    .openapi({ description: 'Ledger units of windows not pushed yet (open or in grace)' }),
});

const ReconciliationReply = z
  .object({ from: z.string(), to: z.string(), rows: z.array(Row), drifted: z.array(Row) })
  .openapi('StripeReconciliation');

export interface InternalBillingDeps {
  db: Database;
  logger: Logger;
  operatorToken: string;
  /** Stripe, when a secret key is configured; without it the route answers 503. */
  stripe: StripeGateway | undefined;
}

/** Operators compare what Meridian pushed with what Stripe counted. */
export function internalBillingRoutes(deps: InternalBillingDeps) {
  const route = createRoute({
    method: 'get',
    path: '/internal/v1/billing/reconciliation',
    operationId: 'getBillingReconciliation',
    tags: ['internal'],
    summary: 'Operators only: per customer and meter, ledger vs outbox vs Stripe’s meter event summaries',
    security: [{ operatorToken: [] }],
    middleware: requireOperatorToken(deps.operatorToken),
    request: { query: ReconciliationQuery },
    responses: {
      200: jsonContent(ReconciliationReply, 'Every (org, meter) with usage or Stripe events in the period'),
      503: {
        description: 'Stripe is not configured (MERIDIAN_STRIPE_SECRET_KEY)',
        content: { 'application/json': { schema: ErrorEnvelopeSchema } },
      },
      ...errors(401),
    },
  });
  return newRouter().openapi(route, async (c) => {
    const query = c.req.valid('query');
    const from = Date.parse(query.from);
    const to = Date.parse(query.to);
    if (to <= from) throw invalidField('to', 'must be after from');
    if (to - from > MAX_PERIOD_MS) throw invalidField('to', 'the period may span at most 93 days');
    if (!deps.stripe) throw new AppError('unavailable', 'Stripe is not configured on this control plane');
    const result = await reconcile(deps.db, deps.stripe, { from, to, logger: deps.logger });
    return c.json(
      { ...result, from: new Date(result.from).toISOString(), to: new Date(result.to).toISOString() },
      200,
    );
  });
}
