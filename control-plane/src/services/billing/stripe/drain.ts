import { and, asc, eq, inArray, lte } from 'drizzle-orm';
import type { Database } from '../../../db/client.js';
import { billingCustomers, stripeMeters, stripeOutbox } from '../../../db/schema.js';
import type { Logger } from '../../../lib/logger.js';
import { type BackoffPolicy, DEFAULT_BACKOFF, retryDelayMs } from './backoff.js';
import type { MeterEventResult, StripeGateway } from './gateway.js';

const HOUR_MS = 3_600_000;
const STRIPE_MAX_AGE_MS = 35 * 24 * HOUR_MS;

export interface DrainOptions {
  now: number;
  logger: Logger;
  /** Meter-event calls in flight at once, over all (customer, meter) pairs. Default 8. */
  concurrency?: number;
  /** Rows read per pass. Default 500. */
  batchSize?: number;
  backoff?: BackoffPolicy;
}

export interface DrainResult {
  sent: number;
  /** Rows Stripe already held (a resend after a crash or a lost answer): marked sent, counted once. */
  duplicates: number;
  failed: number;
  /** The pass stopped early: Stripe's account-wide rate limit answered. */
  rateLimited: boolean;
  /** Rows read: a full batch means more may be due. */
  rows: number;
}

interface DueRow {
  identifier: string;
  windowStart: Date;
  value: number;
  attempts: number;
  customerId: string;
  eventName: string;
}

/**
 * The meter event's time: the middle of its hour, so it falls in the same billing period whichever way Stripe
 * rounds; but never older than Stripe accepts (35 days), so a backlog is billed late rather than never.
 */
export function eventTimestamp(windowStart: number, now: number): number {
  const preferred = windowStart + HOUR_MS / 2;
  const oldest = now - STRIPE_MAX_AGE_MS + HOUR_MS;
  return Math.floor(Math.min(Math.max(preferred, oldest), now) / 1000);
}

async function dueRows(db: Database, now: number, limit: number): Promise<DueRow[]> {
  return (
    db
      .select({
        identifier: stripeOutbox.identifier,
        windowStart: stripeOutbox.windowStart,
        value: stripeOutbox.value,
        attempts: stripeOutbox.attempts,
        customerId: billingCustomers.stripeCustomerId,
        eventName: stripeMeters.eventName,
      })
      .from(stripeOutbox)
      // Rows of orgs without a customer yet wait here until the runner has made one.
      .innerJoin(billingCustomers, eq(billingCustomers.orgId, stripeOutbox.orgId))
      .innerJoin(stripeMeters, eq(stripeMeters.meter, stripeOutbox.meter))
      .where(and(eq(stripeOutbox.status, 'pending'), lte(stripeOutbox.nextAttemptAt, new Date(now))))
      .orderBy(asc(stripeOutbox.nextAttemptAt), asc(stripeOutbox.windowStart), asc(stripeOutbox.identifier))
      .limit(limit)
  );
}

/** Failures worth waiting out for the whole (customer, meter) pair, rather than one bad row. */
const isTransient = (r: Extract<MeterEventResult, { kind: 'failed' }>) =>
  r.reason !== 'http' || (r.status ?? 500) >= 500 || r.status === 409;

/**
 * Sends due outbox rows as meter events. Stripe allows one concurrent call per customer per meter, so each
 * (customer, meter) pair's rows go one after another; `concurrency` pairs go at once. Every row keeps the
 * identifier it was written with: after a crash, a timeout or a lost answer the resend is either replayed
 * (same Idempotency-Key, same attempt) or rejected by Stripe as a known identifier, and both mark it sent.
 */
export async function drainOutbox(
  db: Database,
  gateway: StripeGateway,
  options: DrainOptions,
): Promise<DrainResult> {
  const { now, logger } = options;
  const policy = options.backoff ?? DEFAULT_BACKOFF;
  const rows = await dueRows(db, now, options.batchSize ?? 500);
  const pairs = new Map<string, DueRow[]>();
  for (const row of rows) {
    const key = `${row.customerId}|${row.eventName}`;
    const pair = pairs.get(key);
    if (pair) pair.push(row);
    else pairs.set(key, [row]);
  }
  const result: DrainResult = { sent: 0, duplicates: 0, failed: 0, rateLimited: false, rows: rows.length };
  const queue = [...pairs.values()];

  const markSent = async (row: DueRow, duplicate: boolean) => {
    await db
      .update(stripeOutbox)
      .set({
        status: 'sent',
        sentAt: new Date(now),
        attempts: row.attempts + 1,
        lastError: duplicate ? 'Stripe already held this identifier; counted once' : null,
        // Whose meters hold it: a customer replaced later has its month's events sent again (meter-resend.ts).
        customerId: row.customerId,
      })
      .where(and(eq(stripeOutbox.identifier, row.identifier), eq(stripeOutbox.status, 'pending')));
  };

  const markFailed = async (
    row: DueRow,
    later: DueRow[],
    failure: Extract<MeterEventResult, { kind: 'failed' }>,
  ) => {
    const next = new Date(now + retryDelayMs(row.attempts + 1, policy, failure.retryAfterMs));
    const lastError =
      `${failure.reason}${failure.status ? ` ${failure.status}` : ''}: ${failure.message}`.slice(0, 500);
    await db
      .update(stripeOutbox)
      .set({ attempts: row.attempts + 1, nextAttemptAt: next, lastError })
      .where(eq(stripeOutbox.identifier, row.identifier));
    // The pair's other rows wait as long, so a throttled pair is not hammered by its next row.
    if (later.length > 0 && isTransient(failure)) {
      await db
        .update(stripeOutbox)
        .set({ nextAttemptAt: next })
        .where(
          inArray(
            stripeOutbox.identifier,
            later.map((r) => r.identifier),
          ),
        );
    }
  };

  const sendPair = async (pair: DueRow[]) => {
    for (const [i, row] of pair.entries()) {
      const outcome = await gateway.sendMeterEvent(
        {
          eventName: row.eventName,
          customerId: row.customerId,
          value: row.value,
          identifier: row.identifier,
          timestamp: eventTimestamp(row.windowStart.getTime(), now),
        },
        // One key per attempt: Stripe replays a key's saved answer, a 500 included, so a retry after a failure
        // needs a new key; a resend of an attempt cut short (a crash) reuses it and gets the original answer.
        `meter-event-${row.identifier}-${row.attempts}`,
      );
      if (outcome.kind !== 'failed') {
        await markSent(row, outcome.kind === 'duplicate');
        if (outcome.kind === 'duplicate') result.duplicates += 1;
        else result.sent += 1;
        continue;
      }
      result.failed += 1;
      const log = isTransient(outcome) ? logger.warn : logger.error;
      log('stripe meter event failed', {
        identifier: row.identifier,
        attempts: row.attempts + 1,
        ...outcome,
      });
      await markFailed(row, pair.slice(i + 1), outcome);
      if (outcome.code === 'rate_limit') result.rateLimited = true;
      if (isTransient(outcome)) return;
    }
  };

  const worker = async () => {
    for (let pair = queue.shift(); pair && !result.rateLimited; pair = queue.shift()) await sendPair(pair);
  };
  const workers = Math.max(1, Math.min(options.concurrency ?? 8, queue.length));
  await Promise.all(Array.from({ length: workers }, worker));
  return result;
}
