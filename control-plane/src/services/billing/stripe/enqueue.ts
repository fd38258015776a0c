import { billingWindow, type Meter } from '@meridian/protocol';
import { and, eq, gte, inArray, lt } from 'drizzle-orm';
import type { Database } from '../../../db/client.js';
import { meterPushes, stripeOutbox } from '../../../db/schema.js';
import type { Logger } from '../../../lib/logger.js';
import { usageByWindow, type WindowUsage } from '../windows.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** Stripe takes meter events up to 35 days old; a day less leaves room for the outbox's retries. */
export const DEFAULT_LOOKBACK_MS = 34 * DAY_MS;

export interface EnqueueOptions {
  /** How long after a window ends before it is pushed, so late usage mostly lands before the first push. */
  graceMs: number;
  /** Oldest window start considered, as a distance from now. Default 34 days. */
  lookbackMs?: number;
  /** Only windows with an entry recorded at or after this time (ms); the runner's cheap incremental pass. */
  recordedSince?: number;
  logger?: Logger;
}

export interface EnqueueResult {
  /** Outbox rows written. */
  enqueued: number;
  /** Billable units they carry. */
  units: number;
}

/** `<orgId>:<meter>:<windowStartMs>:<revision>`: fixed when written, so every resend carries the same one. */
export const outboxIdentifier = (orgId: string, meter: Meter, windowStart: number, revision: number) =>
  `${orgId}:${meter}:${windowStart}:${revision}`;

const pushKey = (orgId: string, meter: string, windowStart: number) => `${orgId}|${meter}|${windowStart}`;

async function pushedSoFar(db: Database, windows: WindowUsage[], from: number, to: number) {
  const pushed = new Map<string, { quantity: number; revision: number }>();
  const orgIds = [...new Set(windows.map((w) => w.orgId))];
  for (let i = 0; i < orgIds.length; i += 200) {
    const rows = await db
      .select()
      .from(meterPushes)
      .where(
        and(
          inArray(meterPushes.orgId, orgIds.slice(i, i + 200)),
          gte(meterPushes.windowStart, new Date(from)),
          lt(meterPushes.windowStart, new Date(to)),
        ),
      );
    for (const r of rows) {
      pushed.set(pushKey(r.orgId, r.meter, r.windowStart.getTime()), {
        quantity: r.pushedQuantity,
        revision: r.revision,
      });
    }
  }
  return pushed;
}

/**
 * Hands every closed (org, meter, hour) window to the outbox: the window's billable quantity by THE rounding
 * rule, less what earlier pushes already carried. Late usage for a window already pushed therefore becomes
 * a delta with the next revision in its identifier, and a window is never counted twice: the outbox row and
 * the new `meter_pushes` total are written in one transaction, conditional on the revision read.
 */
export async function enqueueClosedWindows(
  db: Database,
  now: number,
  options: EnqueueOptions,
): Promise<EnqueueResult> {
  // A window [start, start + 1h) is closed once start + 1h + grace <= now.
  const to = billingWindow(now - options.graceMs);
  const from = billingWindow(now - (options.lookbackMs ?? DEFAULT_LOOKBACK_MS)) + HOUR_MS;
  const windows = await usageByWindow(db, {
    from,
    to,
    ...(options.recordedSince === undefined ? {} : { recordedSince: options.recordedSince }),
  });
  const pushed = await pushedSoFar(db, windows, from, to);
  const result: EnqueueResult = { enqueued: 0, units: 0 };
  for (const w of windows) {
    const before = pushed.get(pushKey(w.orgId, w.meter, w.windowStart));
    const already = before?.quantity ?? 0;
    if (w.billableQuantity < already) {
      // The ledger is append-only, so this means a rounding rule or a ledger row changed under us.
      options.logger?.error('billable quantity of a pushed window went down', { ...w, pushed: already });
      continue;
    }
    if (w.billableQuantity === already) continue;
    if (!Number.isInteger(w.billableQuantity)) {
      options.logger?.error('billable quantity is not a whole number; Stripe takes only whole units', {
        ...w,
      });
      continue;
    }
    if (await enqueueDelta(db, w, before, now)) {
      result.enqueued += 1;
      result.units += w.billableQuantity - already;
    }
  }
  return result;
}

/** Writes one delta and the window's new pushed total together; false when another writer got there first. */
async function enqueueDelta(
  db: Database,
  w: WindowUsage,
  before: { quantity: number; revision: number } | undefined,
  now: number,
): Promise<boolean> {
  const revision = (before?.revision ?? 0) + 1;
  const windowStart = new Date(w.windowStart);
  return db.transaction(async (tx) => {
    const claimed = before
      ? await tx
          .update(meterPushes)
          .set({ pushedQuantity: w.billableQuantity, revision })
          .where(
            and(
              eq(meterPushes.orgId, w.orgId),
              eq(meterPushes.meter, w.meter),
              eq(meterPushes.windowStart, windowStart),
              eq(meterPushes.revision, before.revision),
            ),
          )
          .returning({ revision: meterPushes.revision })
      : await tx
          .insert(meterPushes)
          .values({
            orgId: w.orgId,
            meter: w.meter,
            windowStart,
            pushedQuantity: w.billableQuantity,
            revision,
          })
          .onConflictDoNothing()
          .returning({ revision: meterPushes.revision });
    if (claimed.length === 0) return false;
    await tx.insert(stripeOutbox).values({
      identifier: outboxIdentifier(w.orgId, w.meter, w.windowStart, revision),
      orgId: w.orgId,
      meter: w.meter,
      windowStart,
      value: w.billableQuantity - (before?.quantity ?? 0),
      nextAttemptAt: new Date(now),
    });
    return true;
  });
}
