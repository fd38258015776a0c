import { and, eq } from 'drizzle-orm';
import { z } from 'zod';
import type { Database } from '../../../db/client.js';
import { billingCustomers } from '../../../db/schema.js';
import type { NewSubscription, StripeFailure, StripeGateway } from './gateway.js';

/** What `billing_customers.pending_subscription` holds: the Idempotency-Key and the request first sent under it. */
const PendingSubscription = z.object({
  key: z.string(),
  request: z.object({
    customerId: z.string(),
    orgId: z.string(),
    priceIds: z.array(z.string()),
    billingCycleAnchor: z.number().int(),
    backdateStartDate: z.number().int().optional(),
    prorationBehavior: z.enum(['none', 'create_prorations', 'always_invoice']),
  }),
});
type PendingSubscription = z.infer<typeof PendingSubscription>;

/** The parameters whose validity runs out with time: an anchor that has passed, a start no longer before it. */
const TIMED_PARAMS = ['billing_cycle_anchor', 'backdate_start_date'];

function parsePending(raw: string | null | undefined): PendingSubscription | undefined {
  if (!raw) return undefined;
  try {
    const parsed = PendingSubscription.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Stripe validated the request and refused one of its times. Stripe replays a key's saved answer before it
 * validates anything, so this also says that no subscription was ever made under the key, and it saves no answer
 * for a refusal, so the key is free for other parameters.
 */
const refusedItsTimes = (failure: StripeFailure) =>
  failure.reason === 'http' && failure.status === 400 && TIMED_PARAMS.includes(failure.param ?? '');

/**
 * Creates the org's subscription under `key`, sending the same request on every try. The first try stores the
 * request (`fresh()`, computed once) with its key on the org's `billing_customers` row before sending it; a retry
 * after a lost answer, a crash or an outage resends exactly that, so Stripe replays the subscription it made
 * instead of refusing a key reused with other parameters (an anchor computed again after midnight, a plan
 * changed since). Only when Stripe refuses the stored request's times (the anchor passed before Stripe ever
 * processed it) is the request dropped, for the next try to compute afresh. Returns the new subscription's id,
 * which the caller stores together with clearing `pending_subscription`; throws when Stripe made none.
 */
export async function createSubscriptionOnce(
  db: Database,
  gateway: StripeGateway,
  orgId: string,
  key: string,
  fresh: () => NewSubscription,
): Promise<string> {
  const [row] = await db
    .select({ pending: billingCustomers.pendingSubscription })
    .from(billingCustomers)
    .where(eq(billingCustomers.orgId, orgId));
  if (!row) throw new Error(`no billing customer for ${orgId}`);
  let pending = parsePending(row.pending);
  if (pending?.key !== key) {
    pending = { key, request: fresh() };
    await db
      .update(billingCustomers)
      .set({ pendingSubscription: JSON.stringify(pending) })
      .where(eq(billingCustomers.orgId, orgId));
  }
  const outcome = await gateway.createSubscription(pending.request, key);
  if (outcome.kind === 'created') return outcome.id;
  if (refusedItsTimes(outcome)) {
    await db
      .update(billingCustomers)
      .set({ pendingSubscription: null })
      .where(
        and(
          eq(billingCustomers.orgId, orgId),
          eq(billingCustomers.pendingSubscription, JSON.stringify(pending)),
        ),
      );
  }
  const status = outcome.status ? ` ${outcome.status}` : '';
  throw new Error(`Stripe made no subscription under ${key}: ${outcome.reason}${status}: ${outcome.message}`);
}
