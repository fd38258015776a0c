import { billableQuantity, type Meter } from '@meridian/protocol';
import { and, eq, gte, lt, sql } from 'drizzle-orm';
import { ledgerEntries } from '../../db/schema.js';
import type { Reader } from '../models/deps.js';

/** One (org, meter, UTC hour window) of the ledger: what the rounding rule is applied to. */
export interface WindowUsage {
  orgId: string;
  meter: Meter;
  /** Start of the UTC hour, in ms. */
  windowStart: number;
  /** The window's raw total: calls, seconds or byte-hours. */
  rawQuantity: number;
  /** `billableQuantity(meter, rawQuantity)`: what is invoiced and pushed to Stripe for the window. */
  billableQuantity: number;
}

export interface WindowQuery {
  /** One org, or every org (the Stripe push, the bench). */
  orgId?: string;
  /** Windows whose start lies in [from, to), in ms. */
  from: number;
  to: number;
  /** Only windows with an entry recorded at or after this time (ms): those that changed since a push. */
  recordedSince?: number;
}

/**
 * The ledger summed per (org, meter, window), each window rounded by THE rule. This is the one
 * aggregation: the local invoice, /v1/billing/usage and the Stripe meter events all start here, so they
 * agree. Windows whose total is zero (storage of an org holding no bytes) are left out.
 */
export async function usageByWindow(db: Reader, query: WindowQuery): Promise<WindowUsage[]> {
  const rows = await db
    .select({
      orgId: ledgerEntries.orgId,
      meter: ledgerEntries.meter,
      windowStart: ledgerEntries.windowStart,
      raw: sql<number>`sum(${ledgerEntries.quantity})`.mapWith(Number),
    })
    .from(ledgerEntries)
    .where(
      and(
        query.orgId === undefined ? undefined : eq(ledgerEntries.orgId, query.orgId),
        gte(ledgerEntries.windowStart, new Date(query.from)),
        lt(ledgerEntries.windowStart, new Date(query.to)),
      ),
    )
    .groupBy(ledgerEntries.orgId, ledgerEntries.meter, ledgerEntries.windowStart)
    .having(({ raw }) =>
      and(
        sql`${raw} > 0`,
        query.recordedSince === undefined
          ? undefined
          : sql`max(${ledgerEntries.recordedAt}) >= ${query.recordedSince}`,
      ),
    )
    .orderBy(ledgerEntries.orgId, ledgerEntries.meter, ledgerEntries.windowStart);
  return rows.map((r) => ({
    orgId: r.orgId,
    meter: r.meter,
    windowStart: r.windowStart.getTime(),
    rawQuantity: r.raw,
    billableQuantity: billableQuantity(r.meter, r.raw),
  }));
}
