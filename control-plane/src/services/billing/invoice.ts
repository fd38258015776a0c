import { METERS, type Meter, PLAN_FEES_USD, type Plan, PRICES } from '@meridian/protocol';
import { eq } from 'drizzle-orm';
import { orgs } from '../../db/schema.js';
import { notFound } from '../../errors.js';
import type { Reader } from '../models/deps.js';
import { formatDecimal, parseDecimal, sum, toCentsHalfUp } from './money.js';
import { calendarMonth } from './period.js';
import { PLAN_NAMES } from './pricing.js';
import { subscriptionRefused } from './subscription-refused.js';
import { lineAmount } from './summary.js';
import { usageBackfillRefused } from './usage-backfill-refused.js';
import { usageByWindow, type WindowUsage } from './windows.js';

export interface InvoiceLine {
  description: string;
  /** null for the plan's base fee. */
  meter: Meter | null;
  quantity: number;
  unit: string;
  unitPriceUsd: string;
  /** quantity × unitPriceUsd, exact. */
  amountUsd: string;
}

export interface Invoice {
  plan: Plan;
  lines: InvoiceLine[];
  /** The sum of the lines, exact. */
  subtotalUsd: string;
  /** The amount due: subtotalUsd in whole cents, half up — the only rounding of money. */
  totalCents: number;
}

/**
 * An invoice from a period's windows: the plan's base fee, then one line per meter with the sum of its
 * windows' billable quantities (each window already rounded by THE rule). Pure.
 */
export function invoiceFor(plan: Plan, windows: readonly WindowUsage[]): Invoice {
  const fee = parseDecimal(PLAN_FEES_USD[plan]);
  const lines: InvoiceLine[] = [
    {
      description: `${PLAN_NAMES[plan]} plan, monthly fee`,
      meter: null,
      quantity: 1,
      unit: 'month',
      unitPriceUsd: formatDecimal(fee),
      amountUsd: formatDecimal(fee),
    },
  ];
  const amounts = [fee];
  for (const meter of METERS) {
    const quantity = windows.filter((w) => w.meter === meter).reduce((n, w) => n + w.billableQuantity, 0);
    const amount = lineAmount(meter, quantity);
    amounts.push(amount);
    lines.push({
      description: PRICES[meter].description,
      meter,
      quantity,
      unit: PRICES[meter].unit,
      unitPriceUsd: formatDecimal(parseDecimal(PRICES[meter].usdPerUnit)),
      amountUsd: formatDecimal(amount),
    });
  }
  const subtotal = sum(amounts);
  return { plan, lines, subtotalUsd: formatDecimal(subtotal), totalCents: toCentsHalfUp(subtotal) };
}

export async function planOf(db: Reader, orgId: string): Promise<Plan> {
  const [org] = await db.select({ plan: orgs.plan }).from(orgs).where(eq(orgs.id, orgId));
  if (!org) throw notFound('Organisation');
  return org.plan;
}

/**
 * The invoice of the current UTC calendar month so far, computed from the ledger, and why Stripe would not start
 * the org's subscription (Stripe then sends no invoice of it) or bill the usage of months before it, while that
 * stands.
 */
export async function upcomingInvoice(db: Reader, orgId: string, now = Date.now()) {
  const month = calendarMonth(now);
  const [plan, windows, refused, backfillRefused] = await Promise.all([
    planOf(db, orgId),
    usageByWindow(db, { orgId, from: month.start, to: month.end }),
    subscriptionRefused(db, orgId),
    usageBackfillRefused(db, orgId),
  ]);
  return {
    orgId,
    periodStart: new Date(month.start).toISOString(),
    periodEnd: new Date(month.end).toISOString(),
    currency: 'usd' as const,
    ...invoiceFor(plan, windows),
    subscriptionRefused: refused,
    usageBackfillRefused: backfillRefused,
  };
}
