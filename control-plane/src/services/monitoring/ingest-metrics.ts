import {
  type AgentDeploymentMetrics,
  type DeploymentMetricsAck,
  type DeploymentMetricsBatch,
  emptyHistogram,
  type LatencyHistogram,
  mergeHistogram,
  STATUS_CLASSES,
  type StatusCounts,
} from '@meridian/protocol';
import { and, eq, inArray } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { deploymentMetrics, deployments, metricBatches } from '../../db/schema.js';
import { invalidField } from '../../errors.js';
import type { Tx } from '../billing/ledger.js';
import { decodeHistogram, encodeCounts } from './histogram-codec.js';

/** What one report adds to a (deployment, version, source, minute). */
export interface MetricsDelta {
  orgId: string;
  deploymentId: string;
  versionId: string;
  source: 'edge' | 'agent';
  /** Epoch seconds of the minute's start. */
  minute: number;
  requests: StatusCounts;
  latency?: LatencyHistogram;
  queue?: LatencyHistogram;
  compute?: LatencyHistogram;
}

/**
 * Stores an edge isolate's batch once: a batch id seen before stores nothing and answers `accepted: false`.
 * Records of deployments that are not their org's are dropped (the edge names both from its snapshot, so
 * this only happens to a deployment deleted meanwhile).
 */
export async function recordEdgeMetrics(
  db: Database,
  batch: DeploymentMetricsBatch,
  now = new Date(),
): Promise<DeploymentMetricsAck> {
  const deltas = batch.records.map((r, idx) => ({
    orgId: r.orgId,
    deploymentId: r.deploymentId,
    versionId: r.versionId ?? '',
    source: 'edge' as const,
    minute: toMinute(r.minute, `records.${idx}.minute`),
    requests: r.requests,
    latency: r.latency,
  }));
  const accepted = await storeOnce(db, `edge:${batch.batchId}`, deltas, now);
  return { batchId: batch.batchId, accepted };
}

/** An agent's per-deployment figures as deltas; deployments that do not exist are dropped. */
export async function agentMetricDeltas(
  db: Pick<Database, 'select'>,
  metrics: AgentDeploymentMetrics[],
): Promise<MetricsDelta[]> {
  const ids = [...new Set(metrics.map((m) => m.deploymentId))];
  if (ids.length === 0) return [];
  const owners = await db
    .select({ id: deployments.id, orgId: deployments.orgId })
    .from(deployments)
    .where(inArray(deployments.id, ids));
  const orgOf = new Map(owners.map((d) => [d.id, d.orgId]));
  const deltas: MetricsDelta[] = [];
  metrics.forEach((m, idx) => {
    const orgId = orgOf.get(m.deploymentId);
    if (!orgId) return;
    deltas.push({
      orgId,
      deploymentId: m.deploymentId,
      versionId: m.versionId ?? '',
      source: 'agent',
      minute: toMinute(m.minute, `metrics.${idx}.minute`),
      requests: m.requests,
      queue: m.queue,
      compute: m.compute,
    });
  });
  return deltas;
}

async function storeOnce(db: Database, batchId: string, deltas: MetricsDelta[], now: Date): Promise<boolean> {
  return db.transaction(async (tx) => {
    if (!(await claimBatch(tx, batchId, now))) return false;
    await applyDeltas(tx, deltas);
    return true;
  });
}

/** Records a batch id; false when it was recorded before (the batch is a resend: store nothing). */
export async function claimBatch(tx: Tx, batchId: string, now: Date): Promise<boolean> {
  const inserted = await tx.insert(metricBatches).values({ batchId, receivedAt: now }).onConflictDoNothing();
  return inserted.rowsAffected > 0;
}

/** Adds deltas to their minute rows (kept 48 h) and hour rollups (kept 90 days). */
export async function applyDeltas(tx: Tx, deltas: MetricsDelta[]): Promise<void> {
  for (const delta of mergeDeltas(deltas)) {
    await addToRow(tx, delta, 60, delta.minute);
    await addToRow(tx, delta, 3600, delta.minute - (delta.minute % 3600));
  }
}

/** Deltas of one key added together first, so a batch touches each row once. */
function mergeDeltas(deltas: MetricsDelta[]): MetricsDelta[] {
  const merged = new Map<string, MetricsDelta>();
  for (const d of deltas) {
    const key = `${d.deploymentId}|${d.versionId}|${d.source}|${d.minute}`;
    const into = merged.get(key);
    if (!into) {
      merged.set(key, { ...d, requests: { ...d.requests }, ...copyHistograms(d) });
      continue;
    }
    for (const cls of STATUS_CLASSES) into.requests[cls] = (into.requests[cls] ?? 0) + (d.requests[cls] ?? 0);
    for (const name of ['latency', 'queue', 'compute'] as const) {
      const from = d[name];
      if (!from) continue;
      const target = into[name] ?? emptyHistogram();
      into[name] = target;
      mergeHistogram(target, from);
    }
  }
  return [...merged.values()];
}

function copyHistograms(d: MetricsDelta) {
  const copy = (h: LatencyHistogram | undefined) =>
    h ? { counts: [...h.counts], sumMs: h.sumMs } : undefined;
  return { latency: copy(d.latency), queue: copy(d.queue), compute: copy(d.compute) };
}

async function addToRow(tx: Tx, d: MetricsDelta, resolution: number, at: number): Promise<void> {
  const key = and(
    eq(deploymentMetrics.deploymentId, d.deploymentId),
    eq(deploymentMetrics.versionId, d.versionId),
    eq(deploymentMetrics.source, d.source),
    eq(deploymentMetrics.resolution, resolution),
    eq(deploymentMetrics.at, at),
  );
  const [row] = await tx.select().from(deploymentMetrics).where(key);
  const sum = (
    stored: string | undefined,
    storedSum: number | undefined,
    add: LatencyHistogram | undefined,
  ) => {
    const h = decodeHistogram(stored ?? '', storedSum ?? 0);
    if (add) mergeHistogram(h, add);
    return { counts: encodeCounts(h), sum: h.sumMs };
  };
  const latency = sum(row?.latency, row?.latencySum, d.latency);
  const queue = sum(row?.queue, row?.queueSum, d.queue);
  const compute = sum(row?.compute, row?.computeSum, d.compute);
  const values = {
    c1xx: (row?.c1xx ?? 0) + (d.requests['1xx'] ?? 0),
    c2xx: (row?.c2xx ?? 0) + (d.requests['2xx'] ?? 0),
    c3xx: (row?.c3xx ?? 0) + (d.requests['3xx'] ?? 0),
    c4xx: (row?.c4xx ?? 0) + (d.requests['4xx'] ?? 0),
    c5xx: (row?.c5xx ?? 0) + (d.requests['5xx'] ?? 0),
    latency: latency.counts,
    latencySum: latency.sum,
    queue: queue.counts,
    queueSum: queue.sum,
    compute: compute.counts,
    computeSum: compute.sum,
  };
  if (row) {
    await tx.update(deploymentMetrics).set(values).where(key);
    return;
  }
  await tx.insert(deploymentMetrics).values({
    deploymentId: d.deploymentId,
    versionId: d.versionId,
    source: d.source,
    resolution,
    at,
    orgId: d.orgId,
    ...values,
  });
}

/** The wire format has the shape of a minute; this refuses shapes that name no real one. */
function toMinute(minute: string, field: string): number {
  const at = new Date(minute);
  if (Number.isNaN(at.getTime()) || at.toISOString().slice(0, 16) !== minute.slice(0, 16)) {
    throw invalidField(field, 'not a real UTC minute');
  }
  return at.getTime() / 1000;
}
