import type { Meter } from '@meridian/protocol';
import { and, asc, eq } from 'drizzle-orm';
import { orgs, stripeUsageBackfills } from '../../db/schema.js';
import type { Reader } from '../models/deps.js';
import { parseRefusal } from './stripe/subscription-refusal.js';
import { backfillDescription } from './stripe/usage-backfill.js';
import { howToRetry, type SubscriptionRefusedView } from './subscription-refused.js';

/**
 * What an org's admins read when Stripe refused to bill usage from before the subscription (the latest refusal,
 * read as a refused subscription is, and the items it left unbilled); null while it has not.
 */
export interface UsageBackfillRefusedView extends SubscriptionRefusedView {
  items: { month: string; meter: Meter; description: string; amountUsd: string }[];
}

/**
 * The usage of months no subscription covered whose invoice items Stripe refused for good, and why, in Stripe's
 * words (its error type, code and message, of the latest refusal), with how to try again, until an owner asks
 * for a retry (`retryRefusedBackfills`). Null when none stands.
 */
export async function usageBackfillRefused(
  db: Reader,
  orgId: string,
): Promise<UsageBackfillRefusedView | null> {
  const rows = await db
    .select()
    .from(stripeUsageBackfills)
    .where(and(eq(stripeUsageBackfills.orgId, orgId), eq(stripeUsageBackfills.status, 'refused')))
    .orderBy(asc(stripeUsageBackfills.month), asc(stripeUsageBackfills.meter));
  const refused = rows.flatMap((row) => {
    const refusal = parseRefusal(row.refusal);
    return refusal ? [{ row, refusal }] : [];
  });
  const latest = refused.reduce<(typeof refused)[number] | undefined>(
    (last, r) => (last && last.refusal.at >= r.refusal.at ? last : r),
    undefined,
  );
  if (!latest) return null;
  const { refusal } = latest;
  const [org] = await db.select({ plan: orgs.plan }).from(orgs).where(eq(orgs.id, orgId));
  const items = refused.map(({ row }) => ({
    month: row.month,
    meter: row.meter,
    description: backfillDescription(row),
    amountUsd: (row.amountCents / 100).toFixed(2),
  }));
  const reason = [refusal.type, refusal.code, refusal.declineCode].filter(Boolean).join(', ');
  const what = items.map((i) => `${i.description} ($${i.amountUsd})`).join('; ');
  return {
    at: new Date(refusal.at).toISOString(),
    summary:
      `Billing could not add usage from before your subscription began to its Stripe invoice (${what}): ` +
      `Stripe refused it (${reason}): ${refusal.message} ${howToRetry(org?.plan ?? 'free')}`,
    type: refusal.type,
    code: refusal.code ?? null,
    declineCode: refusal.declineCode ?? null,
    message: refusal.message,
    items,
  };
}
