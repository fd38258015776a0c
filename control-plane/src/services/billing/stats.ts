import { PLAN_FEES_USD, PLAN_LIMITS } from '@meridian/protocol';
import { count, eq } from 'drizzle-orm';
import { models } from '../../db/schema.js';
import type { Reader } from '../models/deps.js';
import { planOf } from './invoice.js';
import { formatDecimal, parseDecimal, plus, sum, toCentsHalfUp } from './money.js';
import { calendarMonth } from './period.js';
import { subscriptionRefused } from './subscription-refused.js';
import { lineAmount } from './summary.js';
import { usageBackfillRefused } from './usage-backfill-refused.js';
import { usageByWindow } from './windows.js';

/**
 * The month so far against the plan: prediction calls against the monthly quota the edge enforces, models
 * against the plan's limit, and what the month costs up to now (base fee + usage, as the upcoming invoice).
 * Calls are those the edge has reported, which trail its own counters by a batch interval. `subscriptionRefused`
 * says why Stripe would not start the org's subscription, and `usageBackfillRefused` why it would not bill the usage
 * of months before it, while that stands.
 */
export async function billingStats(db: Reader, orgId: string, now = Date.now()) {
  const month = calendarMonth(now);
  const [plan, windows, [modelCount], refused, backfillRefused] = await Promise.all([
    planOf(db, orgId),
    usageByWindow(db, { orgId, from: month.start, to: month.end }),
    db.select({ n: count() }).from(models).where(eq(models.orgId, orgId)),
    subscriptionRefused(db, orgId),
    usageBackfillRefused(db, orgId),
  ]);
  const limits = PLAN_LIMITS[plan];
  const usage = sum(windows.map((w) => lineAmount(w.meter, w.billableQuantity)));
  const fee = parseDecimal(PLAN_FEES_USD[plan]);
  return {
    orgId,
    plan,
    periodStart: new Date(month.start).toISOString(),
    periodEnd: new Date(month.end).toISOString(),
    asOf: new Date(now).toISOString(),
    calls: {
      used: windows.filter((w) => w.meter === 'inference_calls').reduce((n, w) => n + w.rawQuantity, 0),
      monthlyQuota: limits.monthlyCalls,
    },
    models: { count: modelCount?.n ?? 0, limit: limits.models },
    spend: {
      baseFeeUsd: formatDecimal(fee),
      usageUsd: formatDecimal(usage),
      totalCents: toCentsHalfUp(plus(fee, usage)),
    },
    subscriptionRefused: refused,
    usageBackfillRefused: backfillRefused,
  };
}
