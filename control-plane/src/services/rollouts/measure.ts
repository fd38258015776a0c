import { LATENCY_BUCKETS } from '@meridian/protocol';
import { and, eq, gte } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { deploymentMetrics, type RevisionTotals } from '../../db/schema.js';
import { decodeHistogram } from '../monitoring/histogram-codec.js';

/**
 * The edge's running totals of one version of a deployment over its minute rows from `sinceSeconds` on: calls,
 * 5xx answers and the latency histogram. Rows only ever grow (each accepted edge batch adds to them), so the
 * totals read at a step's start subtracted from those read later are exactly the calls stored in between,
 * whatever minute they fell in.
 */
export async function readTotals(
  db: Pick<Database, 'select'>,
  deploymentId: string,
  versionId: string,
  sinceSeconds: number,
): Promise<RevisionTotals> {
  const rows = await db
    .select({
      c1xx: deploymentMetrics.c1xx,
      c2xx: deploymentMetrics.c2xx,
      c3xx: deploymentMetrics.c3xx,
      c4xx: deploymentMetrics.c4xx,
      c5xx: deploymentMetrics.c5xx,
      latency: deploymentMetrics.latency,
    })
    .from(deploymentMetrics)
    .where(
      and(
        eq(deploymentMetrics.deploymentId, deploymentId),
        eq(deploymentMetrics.versionId, versionId),
        eq(deploymentMetrics.source, 'edge'),
        eq(deploymentMetrics.resolution, 60),
        gte(deploymentMetrics.at, sinceSeconds),
      ),
    );
  const totals: RevisionTotals = { calls: 0, errors: 0, latency: new Array(LATENCY_BUCKETS).fill(0) };
  for (const r of rows) {
    totals.calls += r.c1xx + r.c2xx + r.c3xx + r.c4xx + r.c5xx;
    totals.errors += r.c5xx;
    const h = decodeHistogram(r.latency, 0);
    for (let i = 0; i < LATENCY_BUCKETS; i++)
      totals.latency[i] = (totals.latency[i] ?? 0) + (h.counts[i] ?? 0);
  }
  return totals;
}

/**
 * The first minute a step's totals read from: two minutes before it began, so calls an edge isolate batched
 * before the step and sends during it fall in the baseline, not in the step.
 */
export const sinceOf = (stepStartedAt: number) => Math.floor(stepStartedAt / 60_000) * 60 - 120;
