import { and, eq, isNotNull } from 'drizzle-orm';
import type { Database } from '../../../db/client.js';
import { billingCustomers, stripeUsageBackfills } from '../../../db/schema.js';
import type { Logger } from '../../../lib/logger.js';
import type { StripeFailure } from './gateway.js';
import { parseRefusal, refusalOf } from './subscription-refusal.js';

type BackfillRow = typeof stripeUsageBackfills.$inferSelect;

const rowOf = (row: Pick<BackfillRow, 'orgId' | 'month' | 'meter'>) =>
  and(
    eq(stripeUsageBackfills.orgId, row.orgId),
    eq(stripeUsageBackfills.month, row.month),
    eq(stripeUsageBackfills.meter, row.meter),
  );

/**
 * Records that Stripe refused a backfill's invoice item for good (`isPermanentRefusal`, as for a subscription
 * creation): the row is `refused`, keeps Stripe's reason (`refusalOf`, redacted as a subscription's refusal is)
 * and is not sent again until an owner asks (`retryRefusedBackfills`). Logged once, at error level, by the pass
 * that moved it from pending; another pass finding it refused already says nothing.
 */
export async function recordBackfillRefusal(
  db: Database,
  logger: Logger,
  row: BackfillRow,
  key: string,
  failure: StripeFailure,
  now: number,
): Promise<void> {
  const refusal = refusalOf({ key, customerId: row.customerId }, failure, parseRefusal(row.refusal), now);
  const moved = await db
    .update(stripeUsageBackfills)
    .set({
      status: 'refused',
      attempts: row.attempts + 1,
      refusal: JSON.stringify(refusal),
      lastError: `Stripe refused the invoice item: ${refusal.type}${refusal.code ? ` ${refusal.code}` : ''}: ${refusal.message}`,
    })
    .where(and(rowOf(row), eq(stripeUsageBackfills.status, 'pending')))
    .returning({ month: stripeUsageBackfills.month });
  if (moved.length === 0) return;
  logger.error('stripe refused a usage backfill invoice item; it is not sent again until an owner retries', {
    orgId: row.orgId,
    month: row.month,
    meter: row.meter,
    ...refusal,
  });
}

/**
 * What choosing the plan the org is on does to backfills Stripe refused: they are sent again on the next pass,
 * to the org's subscription and customer as they read now (a customer replaced since, a renewal started since,
 * is where the usage is billed), under a key naming the refusal (`creationKeyAfter`: Stripe may have saved the
 * refused answer under the old one). False, changing nothing, when none stands or the org has no subscription
 * to put them on: they wait, refused, for one.
 */
export async function retryRefusedBackfills(db: Database, orgId: string, now = new Date()): Promise<boolean> {
  return db.transaction(async (tx) => {
    const [customer] = await tx
      .select({
        customerId: billingCustomers.stripeCustomerId,
        subscriptionId: billingCustomers.subscriptionId,
      })
      .from(billingCustomers)
      .where(and(eq(billingCustomers.orgId, orgId), isNotNull(billingCustomers.subscriptionId)));
    if (!customer?.subscriptionId) return false;
    const retried = await tx
      .update(stripeUsageBackfills)
      .set({
        status: 'pending',
        attempts: 0,
        nextAttemptAt: now,
        customerId: customer.customerId,
        subscriptionId: customer.subscriptionId,
      })
      .where(and(eq(stripeUsageBackfills.orgId, orgId), eq(stripeUsageBackfills.status, 'refused')))
      .returning({ month: stripeUsageBackfills.month });
    if (retried.length > 0) return true;
    // Asked again before the pass: the retry already waits.
    const [waiting] = await tx
      .select({ month: stripeUsageBackfills.month })
      .from(stripeUsageBackfills)
      .where(
        and(
          eq(stripeUsageBackfills.orgId, orgId),
          eq(stripeUsageBackfills.status, 'pending'),
          isNotNull(stripeUsageBackfills.refusal),
        ),
      )
      .limit(1);
    return waiting !== undefined;
  });
}
