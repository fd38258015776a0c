import { and, eq } from 'drizzle-orm';
import { z } from 'zod';
import type { Database } from '../../../db/client.js';
import { billingCustomers } from '../../../db/schema.js';
import type { Logger } from '../../../lib/logger.js';
import type { Tx } from '../../models/deps.js';
import { calendarMonth } from '../period.js';
import type { NewSubscription, StripeFailure, StripeGateway } from './gateway.js';
import {
  creationKeyAfter,
  isPermanentRefusal,
  isSavedServerError,
  keyAfterServerErrors,
  parseRefusal,
  recordRefusal,
  type SubscriptionRefusal,
} from './subscription-refusal.js';

/** What a creation needs besides the org: where it is stored, Stripe, the operator's log and the time (ms). */
export interface CreationContext {
  db: Database;
  gateway: StripeGateway;
  /** Where a refusal is logged for the operator; without one it is only recorded. */
  logger?: Logger | undefined;
  now: number;
}

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
    creationKey: z.string().optional(),
  }),
  /**
   * The newest `stripe_plan_changes` row read before the plan the request was built from: a refusal settles
   * those rows, and leaves a change made later for a creation of its own. Absent in requests stored before it
   * was kept: a refusal of one settles every queued change.
   */
  planChangesUpTo: z.number().int().optional(),
  /** Stripe's saved 500s answered to the request so far: the next try's Idempotency-Key names them. */
  serverErrors: z.number().int().positive().optional(),
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
 * Stripe validated the request and refused one of its times. The customer's subscriptions were looked up first
 * and none carried the key, and Stripe replays a key's saved answer before it validates anything, so this says
 * that no subscription was ever made under the key; it saves no answer for a refusal, so the key is free for
 * other parameters.
 */
const refusedItsTimes = (failure: StripeFailure) =>
  failure.reason === 'http' && failure.status === 400 && TIMED_PARAMS.includes(failure.param ?? '');

/**
 * The request of the org's stored creation, read before the caller stores the subscription it made (and clears
 * it): the customer it names and its anchor, whose month's start is where the subscription's first period begins
 * its month.
 */
export async function storedCreation(db: Pick<Tx, 'select'>, orgId: string) {
  const [row] = await db
    .select({ pending: billingCustomers.pendingSubscription })
    .from(billingCustomers)
    .where(eq(billingCustomers.orgId, orgId));
  const request = parsePending(row?.pending)?.request;
  if (!request) return undefined;
  return {
    customerId: request.customerId,
    firstMonthStart: calendarMonth(request.billingCycleAnchor * 1000 - 1).start,
  };
}

/** The org's stored creation, if any, and its last refusal, which names the key a creation goes out under. */
async function readCreation(db: Database, orgId: string) {
  const [row] = await db
    .select({ pending: billingCustomers.pendingSubscription, refusal: billingCustomers.subscriptionRefusal })
    .from(billingCustomers)
    .where(eq(billingCustomers.orgId, orgId));
  if (!row) throw new Error(`no billing customer for ${orgId}`);
  return { pending: parsePending(row.pending), refusal: parseRefusal(row.refusal) };
}

/**
 * Sends the stored request under its key; the new subscription's id, or throws when Stripe made none. A request
 * Stripe refuses for good (`isPermanentRefusal`) is dropped and the refusal recorded (`recordRefusal`), but only
 * once the customer's subscriptions, listed again, hold none made under the key: a refusal says Stripe made
 * nothing, and the list is what proves it whatever happened to the requests before.
 */
async function send(
  ctx: CreationContext,
  orgId: string,
  pending: PendingSubscription,
  refusal: SubscriptionRefusal | undefined,
) {
  const { db, gateway } = ctx;
  const outcome = await gateway.createSubscription(
    pending.request,
    keyAfterServerErrors(pending.key, pending.serverErrors ?? 0),
  );
  if (outcome.kind === 'created') return outcome.id;
  const stored = JSON.stringify(pending);
  if (isSavedServerError(outcome)) {
    // The same request again, under a key of its own: it is still looked up by `pending.key` first.
    const counted = { ...pending, serverErrors: (pending.serverErrors ?? 0) + 1 };
    await db
      .update(billingCustomers)
      .set({ pendingSubscription: JSON.stringify(counted) })
      .where(and(eq(billingCustomers.orgId, orgId), eq(billingCustomers.pendingSubscription, stored)));
  } else if (refusedItsTimes(outcome)) {
    await db
      .update(billingCustomers)
      .set({ pendingSubscription: null })
      .where(and(eq(billingCustomers.orgId, orgId), eq(billingCustomers.pendingSubscription, stored)));
  } else if (isPermanentRefusal(outcome)) {
    const made = await gateway.findCreatedSubscription(pending.request.customerId, pending.key);
    if (made !== undefined) return made;
    const refused = {
      orgId,
      key: pending.key,
      customerId: pending.request.customerId,
      planChangesUpTo: pending.planChangesUpTo,
      storedPending: stored,
      previous: refusal,
    };
    throw await recordRefusal(db, ctx.logger, refused, outcome, ctx.now);
  }
  const status = outcome.status ? ` ${outcome.status}` : '';
  throw new Error(
    `Stripe made no subscription under ${pending.key}: ${outcome.reason}${status}: ${outcome.message}`,
  );
}

/**
 * Finishes the org's stored creation for `base` (its key, or the key after the org's last refusal:
 * `creationKeyAfter`), if one is pending: the id of the subscription Stripe made under it, or undefined when
 * none is pending under that key. The customer's subscriptions are looked up first and one carrying the key is
 * adopted: Stripe prunes a key once it is 24 hours old, so a resend after an outage that long would make a
 * second subscription where the first was made and its answer lost. Only when Stripe holds none is the stored
 * request resent, unchanged. Throws when Stripe made none; the request is dropped only when Stripe refused its
 * times (`refusedItsTimes`) or refused it for good (`SubscriptionRefused`, recorded). The caller stores the id
 * together with clearing `pending_subscription` and `subscription_refusal`.
 */
export async function resumeSubscriptionCreation(
  ctx: CreationContext,
  orgId: string,
  base: string,
): Promise<string | undefined> {
  const { pending, refusal } = await readCreation(ctx.db, orgId);
  const key = creationKeyAfter(base, refusal);
  if (pending?.key !== key) return undefined;
  const made = await ctx.gateway.findCreatedSubscription(pending.request.customerId, key);
  return made ?? (await send(ctx, orgId, pending, refusal));
}

/**
 * Creates the org's subscription under `base` (or the key after the org's last refusal), sending the same
 * request on every try. The first try stores the request (`fresh()`, computed once) with its key on the org's
 * `billing_customers` row before sending it; a retry after a lost answer, a crash or an outage first adopts what
 * Stripe made under the key, else resends exactly that request (`resumeSubscriptionCreation`), so Stripe never
 * makes a second subscription nor refuses a key reused with other parameters (an anchor computed again after
 * midnight, a plan changed since). When Stripe refuses the stored request's times (the anchor passed before
 * Stripe ever processed it) the request is dropped, for the next try to compute afresh; when it refuses the
 * request for good (a deleted customer, an archived price, a card error) it is dropped and the refusal
 * recorded, and nothing is sent again until the plan next changes: the plan changes queued up to
 * `planChangesUpTo` (the newest row id read before the plan `fresh()` builds from) are settled as refused, any
 * later one starts a creation of its own. Returns the new subscription's id, which the caller stores together
 * with clearing `pending_subscription` and `subscription_refusal`; throws when Stripe made none.
 */
export async function createSubscriptionOnce(
  ctx: CreationContext,
  orgId: string,
  base: string,
  fresh: () => NewSubscription | Promise<NewSubscription>,
  planChangesUpTo: number,
): Promise<string> {
  const resumed = await resumeSubscriptionCreation(ctx, orgId, base);
  if (resumed !== undefined) return resumed;
  const { refusal } = await readCreation(ctx.db, orgId);
  const key = creationKeyAfter(base, refusal);
  const request = { ...(await fresh()), creationKey: key };
  // Keys in the schema's order: the refusal finds the stored request by its text, re-serialised once parsed.
  const pending: PendingSubscription = { key, request, planChangesUpTo };
  await ctx.db
    .update(billingCustomers)
    .set({ pendingSubscription: JSON.stringify(pending) })
    .where(eq(billingCustomers.orgId, orgId));
  return send(ctx, orgId, pending, refusal);
}
