import { METERS, type Plan } from '@meridian/protocol';
import { and, eq, max } from 'drizzle-orm';
import { billingCustomers, stripePlanChanges } from '../../../db/schema.js';
import type { Tx } from '../../models/deps.js';
import { calendarMonth } from '../period.js';
import { PLAN_PRICE_LOOKUP_PREFIX, type StripeCatalogue } from './catalogue.js';
import type {
  NewSubscription,
  ProrationBehavior,
  SubscriptionItemChange,
  SubscriptionItemView,
} from './gateway.js';

/**
 * How Stripe charges a plan change within a period: not at all. The platform's invoice for a month charges the
 * full fee of the plan the org is on at the month's end; Stripe bills a fee in advance at each period's start,
 * together with the past period's usage, so without prorations the invoice Stripe sends after the change carries
 * the same fee and the same usage as ours (docs/adr/0017-plan-changes-reach-stripe.md).
 */
export const PLAN_CHANGE_PRORATION: ProrationBehavior = 'none';

/**
 * How Stripe charges the first period of a new subscription (from the start of its month, or its creation, to
 * the 1st of the next month): not at all. The platform's invoice for a month begun mid-way charges the plan's
 * full fee (`invoiceFor` has no pro-rata part) with that month's usage; Stripe's invoice at the anchor carries
 * one full fee (billed in advance) and the first period's usage, the same amount. `create_prorations` would add
 * a pro-rata fee for the time before the anchor that the platform's invoice does not show.
 */
export const FIRST_PERIOD_PRORATION: ProrationBehavior = 'none';

/**
 * A new subscription on a plan, its billing periods anchored to the 1st of the UTC month after `now` so each of
 * Stripe's periods after the first is the calendar month the platform's invoice covers. The first period is
 * backdated to the start of `now`'s month (or to `notBefore`, ms, when later: where an ended subscription's
 * periods stopped), so meter events stamped in the month before the subscription existed are billed on
 * Stripe's invoice at the anchor, as the platform's invoice for the month bills them. Pure.
 */
export function newSubscriptionFor(
  org: { orgId: string; customerId: string; plan: Plan },
  catalogue: StripeCatalogue,
  now: number,
  notBefore = 0,
): NewSubscription {
  const prices = subscriptionPricesFor(org.plan, catalogue);
  const month = calendarMonth(now);
  const start = Math.ceil(Math.max(month.start, notBefore) / 1000);
  return {
    customerId: org.customerId,
    orgId: org.orgId,
    priceIds: prices.fee ? [...prices.metered, prices.fee] : prices.metered,
    billingCycleAnchor: Math.floor(month.end / 1000),
    // Stripe takes only a start in the past: at the month's very first second there is nothing to backdate.
    ...(start < Math.floor(now / 1000) ? { backdateStartDate: start } : {}),
    prorationBehavior: FIRST_PERIOD_PRORATION,
  };
}

/** The prices a subscription holds for a plan: every metered price, and the plan's fee where it has one. */
export function subscriptionPricesFor(plan: Plan, catalogue: StripeCatalogue) {
  return {
    metered: METERS.map((meter) => catalogue.meters[meter].priceId),
    // Free costs nothing and Enterprise is invoiced by its contract: neither has a fee item.
    fee: plan === 'pro' ? catalogue.proPriceId : undefined,
  };
}

/** A plan's fee item: Meridian's plan price, by id or by its lookup key (an older Pro price kept by an item). */
const isFeeItem = (item: SubscriptionItemView, catalogue: StripeCatalogue) =>
  !item.metered &&
  (item.priceId === catalogue.proPriceId || (item.lookupKey?.startsWith(PLAN_PRICE_LOOKUP_PREFIX) ?? false));

/**
 * What turns a subscription's items into the plan's: missing metered prices added (never a metered item
 * removed: its usage is billed from it), the fee item swapped to the plan's price, added, or removed. Items that
 * are not Meridian's (an operator's contract price) are left alone. Empty when they already agree. Pure.
 */
export function itemChangesFor(
  items: readonly SubscriptionItemView[],
  plan: Plan,
  catalogue: StripeCatalogue,
): SubscriptionItemChange[] {
  const want = subscriptionPricesFor(plan, catalogue);
  const changes: SubscriptionItemChange[] = [];
  const held = new Set(items.map((item) => item.priceId));
  for (const priceId of want.metered) if (!held.has(priceId)) changes.push({ kind: 'add', priceId });
  const fees = items.filter((item) => isFeeItem(item, catalogue));
  const keep = want.fee ? (fees.find((item) => item.priceId === want.fee) ?? fees[0]) : undefined;
  if (want.fee && !keep) changes.push({ kind: 'add', priceId: want.fee });
  if (want.fee && keep && keep.priceId !== want.fee) {
    changes.push({ kind: 'swap', itemId: keep.id, priceId: want.fee });
  }
  for (const item of fees) if (item !== keep) changes.push({ kind: 'remove', itemId: item.id });
  return changes;
}

/**
 * Records, inside the caller's transaction, that Stripe must follow the org's plan. Only an org with a Stripe
 * customer needs it: one without (billing not started, Stripe not configured) gets its subscription made from
 * its plan when billing starts. Called from the transaction that changes the plan, so the change and its
 * record commit together or not at all.
 */
export async function queuePlanSync(
  tx: Tx,
  change: { orgId: string; from: Plan; to: Plan; reason: 'plan_change' | 'drift' | 'retry'; now: Date },
): Promise<boolean> {
  const [customer] = await tx
    .select({ orgId: billingCustomers.orgId })
    .from(billingCustomers)
    .where(eq(billingCustomers.orgId, change.orgId));
  if (!customer) return false;
  await tx.insert(stripePlanChanges).values({
    orgId: change.orgId,
    fromPlan: change.from,
    toPlan: change.to,
    reason: change.reason,
    nextAttemptAt: change.now,
  });
  return true;
}

/** Whether the org has a plan change Stripe has not been told about yet. */
export async function hasPendingPlanSync(tx: Pick<Tx, 'select'>, orgId: string): Promise<boolean> {
  const [row] = await tx
    .select({ id: stripePlanChanges.id })
    .from(stripePlanChanges)
    .where(and(eq(stripePlanChanges.orgId, orgId), eq(stripePlanChanges.status, 'pending')))
    .limit(1);
  return row !== undefined;
}

/**
 * The id of the org's newest plan change, 0 when it has none: read before the plan a subscription is built
 * from, it names the changes that subscription answers.
 */
export async function newestPlanChangeId(db: Pick<Tx, 'select'>, orgId: string): Promise<number> {
  const [row] = await db
    .select({ id: max(stripePlanChanges.id) })
    .from(stripePlanChanges)
    .where(eq(stripePlanChanges.orgId, orgId));
  return row?.id ?? 0;
}

/**
 * Whether an owner asked for a new try at a subscription Stripe refused (a `retry` row waits): what they fixed
 * may be a price an operator replaced in Stripe, so the catalogue is read again before it.
 */
export async function hasPendingRetry(db: Pick<Tx, 'select'>): Promise<boolean> {
  const [row] = await db
    .select({ id: stripePlanChanges.id })
    .from(stripePlanChanges)
    .where(and(eq(stripePlanChanges.status, 'pending'), eq(stripePlanChanges.reason, 'retry')))
    .limit(1);
  return row !== undefined;
}
