import { type Meter, PRICES } from '@meridian/protocol';
import { and, asc, eq, gte, lt, lte } from 'drizzle-orm';
import type { Database } from '../../../db/client.js';
import { meterPushes, stripeUsageBackfills } from '../../../db/schema.js';
import type { Logger } from '../../../lib/logger.js';
import type { Tx } from '../../models/deps.js';
import { toCentsHalfUp } from '../money.js';
import { calendarMonth } from '../period.js';
import { lineAmount } from '../summary.js';
import { usageByWindow } from '../windows.js';
import { type BackoffPolicy, DEFAULT_BACKOFF, retryDelayMs } from './backoff.js';
import type { InvoiceItemAdded, NewInvoiceItem, StripeGateway } from './gateway.js';
import {
  creationKeyAfter,
  isPermanentRefusal,
  isSavedServerError,
  keyAfterServerErrors,
  parseRefusal,
} from './subscription-refusal.js';
import { recordBackfillRefusal } from './usage-backfill-refusal.js';

const HALF_HOUR_MS = 1_800_000;

/** A subscription just recorded, and where the periods of the org's earlier subscriptions stopped. */
export interface StartedSubscription {
  orgId: string;
  customerId: string;
  subscriptionId: string;
  /** ms: where the new subscription's first period begins its month (usage from then on is on its meters). */
  firstMonthStart: number;
  /** ms: where the last earlier subscription ended (Stripe's `ended_at`); 0 for an org's first subscription. */
  coveredUntil: number;
}

const monthKey = (ms: number) => new Date(ms).toISOString().slice(0, 7);

/**
 * The org's (meter, window) pairs in [from, to) that the runner handed to the outbox: usage Meridian bills
 * through Stripe. Windows older than the push's look-back when Stripe billing began never were, and are not
 * billed by Stripe now either.
 */
async function handedToStripe(tx: Tx, orgId: string, from: number, to: number) {
  const rows = await tx
    .select({ meter: meterPushes.meter, windowStart: meterPushes.windowStart })
    .from(meterPushes)
    .where(
      and(
        eq(meterPushes.orgId, orgId),
        gte(meterPushes.windowStart, new Date(from)),
        lt(meterPushes.windowStart, new Date(to)),
      ),
    );
  return new Set(rows.map((r) => `${r.meter} ${r.windowStart.getTime()}`));
}

/**
 * Records, in the transaction that stores a new subscription, the usage no Stripe invoice bills: the ledger's
 * hours before the new subscription's first month whose meter event (stamped at the middle of the hour) falls
 * after the org's last subscription ended, or anywhere for its first, and which the runner handed to Stripe's
 * meters (a push recorded: never usage from before Stripe billing began, beyond the push's look-back). Stripe bills a meter event only within a
 * subscription item's period, and a first period begins at most a month before its anchor, so those hours are
 * billed instead as one invoice item per month and meter, at the quantities and prices of the platform's own
 * invoice for the month. A month and meter recorded before is left as it is. Returns how many rows it wrote.
 */
export async function planUsageBackfill(tx: Tx, started: StartedSubscription, now: number): Promise<number> {
  const { orgId, firstMonthStart, coveredUntil } = started;
  if (coveredUntil >= firstMonthStart) return 0;
  const from = Math.max(0, coveredUntil - HALF_HOUR_MS);
  const windows = await usageByWindow(tx, { orgId, from, to: firstMonthStart });
  const handed = await handedToStripe(tx, orgId, from, firstMonthStart);
  const totals = new Map<string, { month: string; meter: Meter; quantity: number }>();
  for (const window of windows) {
    if (window.windowStart + HALF_HOUR_MS < coveredUntil) continue;
    if (!handed.has(`${window.meter} ${window.windowStart}`)) continue;
    const month = monthKey(window.windowStart);
    const key = `${month} ${window.meter}`;
    const total = totals.get(key) ?? { month, meter: window.meter, quantity: 0 };
    total.quantity += window.billableQuantity;
    totals.set(key, total);
  }
  const rows = [...totals.values()]
    .map((t) => ({ ...t, amountCents: toCentsHalfUp(lineAmount(t.meter, t.quantity)) }))
    .filter((t) => t.amountCents > 0)
    .map((t) => ({
      ...t,
      orgId,
      customerId: started.customerId,
      subscriptionId: started.subscriptionId,
      nextAttemptAt: new Date(now),
    }));
  if (rows.length === 0) return 0;
  const written = await tx
    .insert(stripeUsageBackfills)
    .values(rows)
    .onConflictDoNothing()
    .returning({ month: stripeUsageBackfills.month });
  return written.length;
}

/** `2026-11` as people read it: November 2026. */
const monthName = (month: string) =>
  new Date(`${month}-01T00:00:00Z`).toLocaleString('en-US', {
    month: 'long',
    year: 'numeric',
    timeZone: 'UTC',
  });

/** `1,234 calls`, `1 minute`. */
const quantityText = (quantity: number, unit: string) =>
  `${quantity.toLocaleString('en-US')} ${unit}${quantity === 1 ? '' : 's'}`;

type BackfillRow = typeof stripeUsageBackfills.$inferSelect;

/** The invoice item's Idempotency-Key and metadata key: one per org, month and meter. */
export const backfillKey = (row: Pick<BackfillRow, 'orgId' | 'month' | 'meter'>) =>
  `usage-backfill-${row.orgId}-${row.month}-${row.meter}`;

/** What the invoice item says, and what an owner reads of a refused one: the meter, quantity and month. */
export const backfillDescription = (row: Pick<BackfillRow, 'meter' | 'quantity' | 'month'>) =>
  `${PRICES[row.meter].description}: ${quantityText(row.quantity, PRICES[row.meter].unit)} in ${monthName(row.month)}, before the subscription began`;

function invoiceItemFor(row: BackfillRow): NewInvoiceItem {
  const start = Date.parse(`${row.month}-01T00:00:00Z`);
  return {
    customerId: row.customerId,
    subscriptionId: row.subscriptionId,
    orgId: row.orgId,
    // A retry after a refusal goes out under a key of its own: Stripe may have saved the refusal under the last.
    key: creationKeyAfter(backfillKey(row), parseRefusal(row.refusal)),
    amountCents: row.amountCents,
    description: backfillDescription(row),
    period: { start: Math.floor(start / 1000), end: Math.floor(calendarMonth(start).end / 1000) },
  };
}

/** The item Stripe holds under the key, else the one it adds now; a failed lookup is a failure like any. */
async function addOnce(
  gateway: StripeGateway,
  item: NewInvoiceItem,
  requestKey: string,
): Promise<InvoiceItemAdded> {
  try {
    const found = await gateway.findInvoiceItem(item.customerId, item.key);
    return found ? { kind: 'added', id: found } : await gateway.addInvoiceItem(item, requestKey);
  } catch (error) {
    return { kind: 'failed', reason: 'network', message: String(error) };
  }
}

export interface BackfillOptions {
  now: number;
  logger: Logger;
  backoff?: BackoffPolicy;
}

/**
 * Sends the recorded backfills that are due as invoice items. Each is first looked up among the customer's
 * invoice items by its key (a crash after Stripe added it, an answer lost, a key Stripe has pruned), else added
 * under it as Idempotency-Key (or the key after Stripe's saved 500s: `keyAfterServerErrors`; every attempt looks the item up first, so an
 * item Stripe made before failing is found, not made again), then marked sent: a
 * resend or a restart adds nothing twice. A failure waits with backoff, except a refusal for good (`isPermanentRefusal`), which is recorded and not sent again
 * (`recordBackfillRefusal`).
 */
export async function sendUsageBackfills(db: Database, gateway: StripeGateway, options: BackfillOptions) {
  const { now, logger } = options;
  const due = await db
    .select()
    .from(stripeUsageBackfills)
    .where(
      and(eq(stripeUsageBackfills.status, 'pending'), lte(stripeUsageBackfills.nextAttemptAt, new Date(now))),
    )
    .orderBy(asc(stripeUsageBackfills.createdAt))
    .limit(100);
  let sent = 0;
  let refused = 0;
  for (const row of due) {
    const where = and(
      eq(stripeUsageBackfills.orgId, row.orgId),
      eq(stripeUsageBackfills.month, row.month),
      eq(stripeUsageBackfills.meter, row.meter),
    );
    const item = invoiceItemFor(row);
    const outcome = await addOnce(gateway, item, keyAfterServerErrors(item.key, row.serverErrors));
    if (outcome.kind === 'added') {
      await db
        .update(stripeUsageBackfills)
        .set({
          status: 'sent',
          invoiceItemId: outcome.id,
          sentAt: new Date(now),
          lastError: null,
          refusal: null,
        })
        .where(where);
      sent += 1;
      continue;
    }
    if (isPermanentRefusal(outcome)) {
      await recordBackfillRefusal(db, logger, row, item.key, outcome, now);
      refused += 1;
      continue;
    }
    const attempts = row.attempts + 1;
    const serverErrors = row.serverErrors + (isSavedServerError(outcome) ? 1 : 0);
    logger.warn('stripe usage backfill not added yet', {
      orgId: row.orgId,
      month: row.month,
      meter: row.meter,
      attempts,
      ...outcome,
    });
    await db
      .update(stripeUsageBackfills)
      .set({
        attempts,
        serverErrors,
        nextAttemptAt: new Date(
          now + retryDelayMs(attempts, options.backoff ?? DEFAULT_BACKOFF, outcome.retryAfterMs),
        ),
        lastError: `${outcome.reason}${outcome.status ? ` ${outcome.status}` : ''}: ${outcome.message}`.slice(
          0,
          500,
        ),
      })
      .where(where);
  }
  return { sent, refused, failed: due.length - sent - refused };
}
