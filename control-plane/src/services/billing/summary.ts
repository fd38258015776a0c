import { billableQuantity, METERS, type Meter, PRICES } from '@meridian/protocol';
import { and, eq, gte, inArray, lt, sql } from 'drizzle-orm';
import { deployments, ledgerEntries, notebooks } from '../../db/schema.js';
import type { Reader } from '../models/deps.js';
import { type Decimal, formatDecimal, parseDecimal, sum, times, toCentsHalfUp } from './money.js';
import { calendarMonth } from './period.js';
import { usageByWindow } from './windows.js';

export const GROUP_BYS = ['meter', 'deployment', 'notebook', 'day'] as const;
export type GroupBy = (typeof GROUP_BYS)[number];

/** Usage of one group on one meter, priced. */
export interface UsageLine {
  /** The meter, the deployment or notebook id (null: usage of neither, e.g. storage), or the UTC day. */
  key: string | null;
  /**
   * By deployment or notebook: its name, for people to read (null once it is deleted, or for the null key).
   * Null when grouped by meter or day, where the key reads as it is.
   */
  name: string | null;
  meter: Meter;
  rawQuantity: number;
  rawUnit: string;
  billableQuantity: number;
  unit: string;
  usdPerUnit: string;
  /** billableQuantity × usdPerUnit, exact. */
  amountUsd: string;
}

export interface UsageSummary {
  orgId: string;
  from: string;
  to: string;
  groupBy: GroupBy;
  lines: UsageLine[];
  /** The period's usage as invoiced (per-window rounding per meter), exact. */
  totalUsd: string;
  /** totalUsd in whole cents, half up. */
  totalCents: number;
}

/** A line's exact amount: the billable quantity times the meter's unit price. */
export function lineAmount(meter: Meter, billable: number): Decimal {
  return times(parseDecimal(PRICES[meter].usdPerUnit), billable);
}

interface Part {
  key: string | null;
  meter: Meter;
  raw: number;
  billable: number;
}

/**
 * An org's usage in the hours starting in [from, to), grouped by meter, deployment, notebook or UTC day, with amounts. Hour
 * windows nest in days and meters, so those groupings add up to the invoice exactly. By deployment or
 * notebook, each group's time is rounded per window on its own (two deployments with 30 s each in one hour
 * show a minute each, the invoice one minute), so those lines can add up to slightly more than `totalUsd`.
 */
export async function usageSummary(
  db: Reader,
  request: { orgId: string; from?: number; to?: number; groupBy: GroupBy },
  now = Date.now(),
): Promise<UsageSummary> {
  // The period defaults to the current UTC calendar month, the invoice's; a start alone runs to now, and an
  // end alone starts at the first of the month it ends in (of the month before, for an end at a month's start).
  const month = calendarMonth(now);
  const from = request.from ?? (request.to === undefined ? month.start : calendarMonth(request.to - 1).start);
  const to = request.to ?? (request.from === undefined ? month.end : now);
  const query = { ...request, from, to };
  const windows = await usageByWindow(db, query);
  let parts: Part[];
  if (query.groupBy === 'deployment' || query.groupBy === 'notebook') {
    parts = await windowsByOwner(db, { ...query, by: query.groupBy });
  } else {
    parts = windows.map((w) => ({
      key: query.groupBy === 'meter' ? w.meter : new Date(w.windowStart).toISOString().slice(0, 10),
      meter: w.meter,
      raw: w.rawQuantity,
      billable: w.billableQuantity,
    }));
  }
  const total = sum(windows.map((w) => lineAmount(w.meter, w.billableQuantity)));
  return {
    orgId: query.orgId,
    from: new Date(query.from).toISOString(),
    to: new Date(query.to).toISOString(),
    groupBy: query.groupBy,
    lines: await withNames(db, query, toLines(parts)),
    totalUsd: formatDecimal(total),
    totalCents: toCentsHalfUp(total),
  };
}

/**
 * Names the deployment or notebook lines, in one query. Only the org's own rows are read, so a key can never
 * show another org's name; a deleted one (rows are removed) keeps its id and a null name.
 */
async function withNames(
  db: Reader,
  query: { orgId: string; groupBy: GroupBy },
  lines: Omit<UsageLine, 'name'>[],
): Promise<UsageLine[]> {
  const table =
    query.groupBy === 'deployment' ? deployments : query.groupBy === 'notebook' ? notebooks : null;
  const ids = [...new Set(lines.map((l) => l.key).filter((k): k is string => k !== null))];
  if (table === null || ids.length === 0) return lines.map((l) => ({ ...l, name: null }));
  const rows = await db
    .select({ id: table.id, name: table.name })
    .from(table)
    .where(and(eq(table.orgId, query.orgId), inArray(table.id, ids)));
  const names = new Map(rows.map((r) => [r.id, r.name]));
  return lines.map((l) => ({ ...l, name: l.key === null ? null : (names.get(l.key) ?? null) }));
}

function toLines(parts: readonly Part[]): Omit<UsageLine, 'name'>[] {
  const groups = new Map<string, Part>();
  for (const part of parts) {
    const id = JSON.stringify([part.key, part.meter]);
    const group = groups.get(id);
    if (group) {
      group.raw += part.raw;
      group.billable += part.billable;
    } else groups.set(id, { ...part });
  }
  // Keys in order, no key last; within a key, meters in catalogue order (which is all that orders by meter).
  const order = (p: Part) =>
    `${p.key === p.meter ? '' : (p.key ?? '\uffff')}\u0000${METERS.indexOf(p.meter)}`;
  return [...groups.values()]
    .sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0))
    .map((p) => {
      const price = PRICES[p.meter];
      return {
        key: p.key,
        meter: p.meter,
        rawQuantity: p.raw,
        rawUnit: price.rawUnit,
        billableQuantity: p.billable,
        unit: price.unit,
        usdPerUnit: formatDecimal(parseDecimal(price.usdPerUnit)),
        amountUsd: formatDecimal(lineAmount(p.meter, p.billable)),
      };
    });
}

/** Per (deployment or notebook, meter, window), each rounded by the rule on its own. */
async function windowsByOwner(
  db: Reader,
  query: { orgId: string; from: number; to: number; by: 'deployment' | 'notebook' },
): Promise<Part[]> {
  const column = query.by === 'deployment' ? ledgerEntries.deploymentId : ledgerEntries.notebookId;
  const rows = await db
    .select({
      key: column,
      meter: ledgerEntries.meter,
      raw: sql<number>`sum(${ledgerEntries.quantity})`.mapWith(Number),
    })
    .from(ledgerEntries)
    .where(
      and(
        eq(ledgerEntries.orgId, query.orgId),
        gte(ledgerEntries.windowStart, new Date(query.from)),
        lt(ledgerEntries.windowStart, new Date(query.to)),
      ),
    )
    .groupBy(column, ledgerEntries.meter, ledgerEntries.windowStart)
    .having(({ raw }) => sql`${raw} > 0`);
  return rows.map((r) => ({ ...r, billable: billableQuantity(r.meter, r.raw) }));
}
