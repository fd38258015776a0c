import { and, eq, inArray } from 'drizzle-orm';
import Stripe from 'stripe';
import { z } from 'zod';
import type { Database } from '../../../db/client.js';
import { billingCustomers, stripeWebhookEvents } from '../../../db/schema.js';
import { AppError } from '../../../errors.js';
import type { Logger } from '../../../lib/logger.js';
import { getOrgStatus, setOrgStanding } from '../../orgs/standing.js';

/** The reason billing writes on a suspension; only suspensions with this prefix are lifted by a payment. */
const PAYMENT_FAILED = 'payment failed';

// The parts of an event Meridian reads. The signature proves Stripe sent it; the shape is still checked.
const CustomerRef = z
  .union([z.string(), z.object({ id: z.string() })])
  .transform((c) => (typeof c === 'string' ? c : c.id));
const StripeEventShape = z.object({
  id: z.string().min(1),
  type: z.string().min(1),
  data: z.object({
    object: z.object({ id: z.string().min(1), customer: CustomerRef.nullish() }),
  }),
});
type StripeEventShape = z.infer<typeof StripeEventShape>;

/**
 * Checks a webhook's `Stripe-Signature` over the exact bytes received, with the endpoint's signing secret
 * (Stripe's own check, with its 5-minute tolerance against replays of old deliveries).
 */
export function verifyStripeEvent(
  rawBody: Buffer,
  signature: string | undefined,
  secret: string,
): StripeEventShape {
  if (!signature) throw new AppError('bad_request', 'Missing Stripe-Signature header');
  let event: unknown;
  try {
    event = Stripe.webhooks.constructEvent(rawBody, signature, secret);
  } catch {
    throw new AppError('bad_request', 'The Stripe-Signature does not match the body');
  }
  const parsed = StripeEventShape.safeParse(event);
  if (!parsed.success) throw new AppError('bad_request', 'Not a Stripe event Meridian can read');
  return parsed.data;
}

export interface WebhookOutcome {
  /** The event id was handled before: nothing was done again. */
  duplicate: boolean;
  /** What changed: `suspended`, `reinstated`, `downgraded`, or `ignored`. */
  action: 'suspended' | 'reinstated' | 'downgraded' | 'ignored';
  orgId?: string;
}

async function orgOfCustomer(db: Database, customerId: string | null | undefined) {
  if (!customerId) return undefined;
  const [row] = await db
    .select()
    .from(billingCustomers)
    .where(eq(billingCustomers.stripeCustomerId, customerId));
  return row;
}

const FAILED = 'invoice.payment_failed';
const PAID = ['invoice.paid', 'invoice.payment_succeeded'];

/** Invoice ids of `orgId` recorded with one of `types`. */
async function invoicesRecorded(db: Database, orgId: string, types: string[]): Promise<Set<string>> {
  const rows = await db
    .select({ invoiceId: stripeWebhookEvents.invoiceId })
    .from(stripeWebhookEvents)
    .where(and(eq(stripeWebhookEvents.orgId, orgId), inArray(stripeWebhookEvents.type, types)));
  return new Set(rows.flatMap((r) => (r.invoiceId ? [r.invoiceId] : [])));
}

async function apply(db: Database, event: StripeEventShape): Promise<WebhookOutcome> {
  const object = event.data.object;
  const customer = await orgOfCustomer(db, object.customer);
  if (!customer) return { duplicate: false, action: 'ignored' };
  const orgId = customer.orgId;
  switch (event.type) {
    case FAILED:
      // Stripe does not deliver in order: a failed attempt told after the invoice was paid is old news.
      if ((await invoicesRecorded(db, orgId, PAID)).has(object.id)) {
        return { duplicate: false, action: 'ignored', orgId };
      }
      await setOrgStanding(db, orgId, {
        suspended: true,
        reason: `${PAYMENT_FAILED} (invoice ${object.id})`,
      });
      return { duplicate: false, action: 'suspended', orgId };
    case 'invoice.paid':
    case 'invoice.payment_succeeded': {
      // A payment lifts only what a failed payment caused; an operator's suspension stays.
      const status = await getOrgStatus(db, orgId);
      if (!status.suspended || !status.suspendedReason?.startsWith(PAYMENT_FAILED)) {
        return { duplicate: false, action: 'ignored', orgId };
      }
      // Paying one invoice does not pay another that failed: the suspension stays until none is unpaid.
      const paid = await invoicesRecorded(db, orgId, PAID);
      paid.add(object.id);
      const unpaid = [...(await invoicesRecorded(db, orgId, [FAILED]))].filter((id) => !paid.has(id));
      if (unpaid.length > 0) {
        await setOrgStanding(db, orgId, {
          suspended: true,
          reason: `${PAYMENT_FAILED} (invoice ${unpaid.join(', ')})`,
        });
        return { duplicate: false, action: 'ignored', orgId };
      }
      await setOrgStanding(db, orgId, { suspended: false });
      return { duplicate: false, action: 'reinstated', orgId };
    }
    case 'customer.subscription.deleted':
      // Only the subscription Meridian made for the org; another one ending changes nothing.
      if (customer.subscriptionId && customer.subscriptionId !== object.id) {
        return { duplicate: false, action: 'ignored', orgId };
      }
      // Stripe ended the subscription itself: nothing is queued to change it.
      await setOrgStanding(db, orgId, { plan: 'free' }, { syncStripe: false });
      return { duplicate: false, action: 'downgraded', orgId };
    default:
      return { duplicate: false, action: 'ignored', orgId };
  }
}

/**
 * Applies a verified Stripe event once. Its id is recorded after the effect, so a crash in between makes
 * Stripe's redelivery apply it again, which every effect here tolerates; a redelivery after it was recorded
 * changes nothing.
 */
export async function handleStripeEvent(
  db: Database,
  event: StripeEventShape,
  logger?: Logger,
): Promise<WebhookOutcome> {
  const [seen] = await db.select().from(stripeWebhookEvents).where(eq(stripeWebhookEvents.id, event.id));
  if (seen) return { duplicate: true, action: 'ignored' };
  const outcome = await apply(db, event);
  const invoiceId = event.type.startsWith('invoice.') ? event.data.object.id : null;
  await db
    .insert(stripeWebhookEvents)
    .values({ id: event.id, type: event.type, orgId: outcome.orgId ?? null, invoiceId })
    .onConflictDoNothing();
  logger?.info('stripe webhook', { eventId: event.id, type: event.type, ...outcome });
  return outcome;
}
