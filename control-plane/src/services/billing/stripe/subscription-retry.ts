import type { Plan } from '@meridian/protocol';
import { eq } from 'drizzle-orm';
import type { Database } from '../../../db/client.js';
import { billingCustomers } from '../../../db/schema.js';
import { hasPendingPlanSync, queuePlanSync } from './plan-sync.js';
import { parseRefusal } from './subscription-refusal.js';
import { retryRefusedBackfills } from './usage-backfill-refusal.js';

/**
 * What choosing the plan the org is on asks, by an owner (`changePlan`) or an operator
 * (`setStandingAsOperator`): a new try at what Stripe refused, the subscription and the invoice items of usage
 * from before it. Each flag is true when something of its kind was refused and a try now waits.
 */
export async function retryWhatStripeRefused(db: Database, orgId: string, plan: Plan) {
  return {
    subscriptionRetried: await queueSubscriptionRetry(db, orgId, plan),
    usageBackfillRetried: await retryRefusedBackfills(db, orgId),
  };
}

/**
 * What choosing the plan the org is already on does after Stripe refused its subscription for good: it queues
 * a new try (a `retry` row in `stripe_plan_changes`), which the runner takes like a plan change, computing a
 * new creation from the plan as it reads then under a key of its own (`creationKeyAfter`). Once the owner has
 * fixed what Stripe refused (a declined card, a price an operator restored) this is how they ask again, without
 * leaving the plan and coming back. True when the org has a refusal standing (a try queued now, or already
 * waiting: at most one row waits, however often it is asked); false, queueing nothing, otherwise.
 */
export async function queueSubscriptionRetry(
  db: Database,
  orgId: string,
  plan: Plan,
  now = new Date(),
): Promise<boolean> {
  return db.transaction(async (tx) => {
    const [row] = await tx
      .select({ refusal: billingCustomers.subscriptionRefusal })
      .from(billingCustomers)
      .where(eq(billingCustomers.orgId, orgId));
    if (!parseRefusal(row?.refusal)) return false;
    if (!(await hasPendingPlanSync(tx, orgId))) {
      await queuePlanSync(tx, { orgId, from: plan, to: plan, reason: 'retry', now });
    }
    return true;
  });
}
