import { and, eq, gte } from 'drizzle-orm';
import { stripeOutbox } from '../../../db/schema.js';
import type { Tx } from '../../models/deps.js';
import { calendarMonth } from '../period.js';

// A resent row's identifier is its first one with the customer it goes to: unique for each customer (Stripe
// refuses an identifier it holds), the same on every retry, and at most 100 characters (the first is under 70).
const CUSTOMER_SUFFIX = /:cus_[A-Za-z0-9]+$/;

/** The identifier a meter event goes out under when it is sent again to `customerId`. */
export const resendIdentifier = (identifier: string, customerId: string) =>
  `${identifier.replace(CUSTOMER_SUFFIX, '')}:${customerId}`;

/**
 * In the transaction that puts `replacement` in place of a customer Stripe no longer has (deleted in its
 * dashboard), sends again the meter events of this UTC month that went to the deleted one: Stripe bills an
 * event on the customer it names, so they were on no invoice, while the new customer's subscription, backdated
 * to the 1st of the month, bills its meters' events of the month. Each such outbox row is set pending again
 * under `resendIdentifier` (the drain sends it to the org's customer, the replacement): one row per event still,
 * so the reconciliation's sums stay the ledger's. Events of earlier months are the usage backfill's. Rows sent
 * before the outbox kept the customer are not known to have gone to the deleted one and stay as they are.
 * Returns how many rows it set to go again.
 */
export async function resendToReplacement(
  tx: Tx,
  change: { orgId: string; deleted: string; replacement: string },
  now: number,
): Promise<number> {
  const rows = await tx
    .select({ identifier: stripeOutbox.identifier })
    .from(stripeOutbox)
    .where(
      and(
        eq(stripeOutbox.orgId, change.orgId),
        eq(stripeOutbox.status, 'sent'),
        eq(stripeOutbox.customerId, change.deleted),
        gte(stripeOutbox.windowStart, new Date(calendarMonth(now).start)),
      ),
    );
  for (const row of rows) {
    await tx
      .update(stripeOutbox)
      .set({
        identifier: resendIdentifier(row.identifier, change.replacement),
        status: 'pending',
        attempts: 0,
        nextAttemptAt: new Date(now),
        sentAt: null,
        customerId: null,
        lastError: `sent to ${change.deleted}, deleted in Stripe; sent again to ${change.replacement}`,
      })
      .where(eq(stripeOutbox.identifier, row.identifier));
  }
  return rows.length;
}
