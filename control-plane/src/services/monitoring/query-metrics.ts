import {
  emptyHistogram,
  histogramCount,
  histogramQuantile,
  type LatencyHistogram,
  mergeHistogram,
  type StatusCounts,
} from '@meridian/protocol';
import { and, eq, gte, inArray, lt } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { deploymentMetrics, deployments, modelVersions } from '../../db/schema.js';
import { invalidField, notFound } from '../../errors.js';
import { MINUTE_RETENTION_S } from './retention.js';

export interface MetricsQuery {
  /** Epoch seconds, inclusive. */
  from: number;
  /** Epoch seconds, exclusive. */
  to: number;
  /** Seconds per point. */
  step: number;
}

/** The most points one answer may hold per version. */
export const MAX_POINTS = 1_500;

export interface HistogramSummary extends LatencyHistogram {
  count: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

export interface MetricsPoint {
  /** Start of the step, ISO. */
  at: string;
  requests: Required<StatusCounts>;
  /** Edge: from receiving the request to the last byte of the upstream answer. */
  latency: HistogramSummary;
  /** Agent: time queued before compute. */
  queue: HistogramSummary;
  /** Agent: model compute. */
  compute: HistogramSummary;
}

export interface MetricsSeries {
  versionId: string | null;
  /** The version's number in its model; null for calls refused before a version was chosen. */
  version: number | null;
  points: MetricsPoint[];
}

type Row = typeof deploymentMetrics.$inferSelect;

/**
 * A deployment's metrics between `from` and `to` in steps, per version. Minute rows answer ranges that start
 * within their 48 h retention, hour rows older ones; a step is rounded up to a whole number of rows. Steps
 * without calls are left out. Another org's deployment is not found.
 */
export async function getDeploymentMetrics(
  db: Database,
  orgId: string,
  deploymentId: string,
  q: MetricsQuery,
) {
  if (q.to <= q.from) throw invalidField('to', 'must be after from');
  const [deployment] = await db
    .select({ id: deployments.id, name: deployments.name })
    .from(deployments)
    .where(and(eq(deployments.id, deploymentId), eq(deployments.orgId, orgId)));
  if (!deployment) throw notFound('Deployment');
  const resolution = q.from >= Date.now() / 1000 - MINUTE_RETENTION_S ? 60 : 3600;
  const step = Math.max(resolution, Math.ceil(q.step / resolution) * resolution);
  if ((q.to - q.from) / step > MAX_POINTS) {
    throw invalidField(
      'step',
      `at most ${MAX_POINTS} points per answer: use a step of at least ${Math.ceil((q.to - q.from) / MAX_POINTS)} s`,
    );
  }
  const rows = await db
    .select()
    .from(deploymentMetrics)
    .where(
      and(
        eq(deploymentMetrics.deploymentId, deploymentId),
        eq(deploymentMetrics.orgId, orgId),
        eq(deploymentMetrics.resolution, resolution),
        gte(deploymentMetrics.at, q.from - (q.from % resolution)),
        lt(deploymentMetrics.at, q.to),
      ),
    );
  const series = await foldSeries(db, rows, q.from, step);
  return {
    deploymentId,
    name: deployment.name,
    from: new Date(q.from * 1000).toISOString(),
    to: new Date(q.to * 1000).toISOString(),
    step,
    resolution,
    series,
  };
}

async function foldSeries(db: Database, rows: Row[], from: number, step: number): Promise<MetricsSeries[]> {
  const byVersion = new Map<string, Map<number, Acc>>();
  for (const row of rows) {
    const bucket = from + Math.floor((row.at - from) / step) * step;
    const points = byVersion.get(row.versionId) ?? new Map<number, Acc>();
    byVersion.set(row.versionId, points);
    const acc = points.get(bucket) ?? newAcc();
    points.set(bucket, acc);
    addRow(acc, row);
  }
  const ids = [...byVersion.keys()].filter((v) => v !== '');
  const numbers = new Map<string, number>();
  if (ids.length > 0) {
    const found = await db
      .select({ id: modelVersions.id, version: modelVersions.version })
      .from(modelVersions)
      .where(inArray(modelVersions.id, ids));
    for (const v of found) numbers.set(v.id, v.version);
  }
  return [...byVersion.entries()].map(([versionId, points]) => ({
    versionId: versionId === '' ? null : versionId,
    version: numbers.get(versionId) ?? null,
    points: [...points.entries()]
      .sort(([a], [b]) => a - b)
      .map(([at, acc]) => ({
        at: new Date(at * 1000).toISOString(),
        requests: acc.requests,
        latency: summarize(acc.latency),
        queue: summarize(acc.queue),
        compute: summarize(acc.compute),
      })),
  }));
}

interface Acc {
  requests: Required<StatusCounts>;
  latency: LatencyHistogram;
  queue: LatencyHistogram;
  compute: LatencyHistogram;
}

function newAcc(): Acc {
  return {
    requests: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 },
    latency: emptyHistogram(),
    queue: emptyHistogram(),
    compute: emptyHistogram(),
  };
}

/** Adds a stored row to an accumulator. Request counts are the edge's (what callers got) where it saw any. */
export function addRow(acc: Acc, row: Row): void {
  if (row.source === 'edge') {
    acc.requests['1xx'] += row.c1xx;
    acc.requests['2xx'] += row.c2xx;
    acc.requests['3xx'] += row.c3xx;
    acc.requests['4xx'] += row.c4xx;
    acc.requests['5xx'] += row.c5xx;
    mergeHistogram(acc.latency, decode(row.latency, row.latencySum));
  } else {
    mergeHistogram(acc.queue, decode(row.queue, row.queueSum));
    mergeHistogram(acc.compute, decode(row.compute, row.computeSum));
  }
}

function decode(counts: string, sum: number): LatencyHistogram {
  if (counts === '') return emptyHistogram();
  const h = emptyHistogram();
  h.counts = counts.split(',').map((c) => Number(c) || 0);
  h.sumMs = sum;
  return h;
}

/** A histogram with its count and p50 / p95 / p99 in ms. */
export function summarize(h: LatencyHistogram): HistogramSummary {
  return {
    ...h,
    count: histogramCount(h),
    p50: histogramQuantile(h, 0.5),
    p95: histogramQuantile(h, 0.95),
    p99: histogramQuantile(h, 0.99),
  };
}
