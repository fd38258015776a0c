import { z } from 'zod';

// Per-deployment request metrics: what monitoring, alerts and the autoscaler's canary read. One record is one
// (deployment, version, UTC minute) seen from one place: the edge (status class of the answer the caller got,
// latency from receiving the request to the last byte of the upstream answer) or an agent (queue wait and
// compute time). Records are additive: the control plane sums every record of a key, whoever sent it.

export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
export const StatusClass = z.enum(STATUS_CLASSES);
export type StatusClass = z.infer<typeof StatusClass>;

/** The class of an HTTP status (`503` → `5xx`); anything outside 100–599 counts as `5xx`. */
export function statusClassOf(status: number): StatusClass {
  if (status >= 100 && status < 200) return '1xx';
  if (status >= 200 && status < 300) return '2xx';
  if (status >= 300 && status < 400) return '3xx';
  if (status >= 400 && status < 500) return '4xx';
  return '5xx';
}

/**
 * Upper bounds (inclusive, milliseconds) of the latency histogram's buckets, fixed for every sender so that
 * histograms add bucket by bucket; a last, unbounded bucket follows (`+Inf`). Never reorder or remove a bound:
 * stored histograms are read with these.
 */
export const LATENCY_BUCKET_BOUNDS_MS = [
  1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000,
] as const;
/** Buckets per histogram: one per bound plus `+Inf`. */
export const LATENCY_BUCKETS = LATENCY_BUCKET_BOUNDS_MS.length + 1;

const Count = z.number().int().nonnegative().max(1e12);

/** A latency histogram: `counts[i]` observations in bucket i (not cumulative) and their sum in ms. */
export const LatencyHistogram = z.strictObject({
  // min + max rather than length: JSON Schema (the OpenAPI document) then states the count too.
  counts: z.array(Count).min(LATENCY_BUCKETS).max(LATENCY_BUCKETS),
  sumMs: z.number().nonnegative().max(1e15),
});
export type LatencyHistogram = z.infer<typeof LatencyHistogram>;

/** Requests by status class; a missing class is zero. */
export const StatusCounts = z.partialRecord(StatusClass, Count);
export type StatusCounts = z.infer<typeof StatusCounts>;

/** An empty histogram. */
export function emptyHistogram(): LatencyHistogram {
  return { counts: new Array<number>(LATENCY_BUCKETS).fill(0), sumMs: 0 };
}

/** The bucket an observation of `ms` falls in. */
export function latencyBucketOf(ms: number): number {
  for (let i = 0; i < LATENCY_BUCKET_BOUNDS_MS.length; i += 1) {
    if (ms <= (LATENCY_BUCKET_BOUNDS_MS[i] ?? 0)) return i;
  }
  return LATENCY_BUCKET_BOUNDS_MS.length;
}

/** Adds one observation to `h` in place. */
export function observeLatency(h: LatencyHistogram, ms: number): void {
  const value = Number.isFinite(ms) && ms > 0 ? ms : 0;
  const i = latencyBucketOf(value);
  h.counts[i] = (h.counts[i] ?? 0) + 1;
  h.sumMs += value;
}

/** Adds `from` into `into` in place, bucket by bucket. */
export function mergeHistogram(into: LatencyHistogram, from: LatencyHistogram): void {
  for (let i = 0; i < LATENCY_BUCKETS; i += 1) into.counts[i] = (into.counts[i] ?? 0) + (from.counts[i] ?? 0);
  into.sumMs += from.sumMs;
}

/** Observations in `h`. */
export function histogramCount(h: LatencyHistogram): number {
  let total = 0;
  for (const c of h.counts) total += c;
  return total;
}

/**
 * The q-quantile (0–1) of `h` in ms, interpolated linearly inside its bucket as Prometheus'
 * `histogram_quantile` does; the `+Inf` bucket answers the last bound. Null for an empty histogram.
 */
export function histogramQuantile(h: LatencyHistogram, q: number): number | null {
  const total = histogramCount(h);
  if (total === 0) return null;
  const rank = Math.min(Math.max(q, 0), 1) * total;
  let seen = 0;
  for (let i = 0; i < h.counts.length; i += 1) {
    const c = h.counts[i] ?? 0;
    if (c > 0 && seen + c >= rank) {
      const upper = LATENCY_BUCKET_BOUNDS_MS[i];
      if (upper === undefined) return LATENCY_BUCKET_BOUNDS_MS[LATENCY_BUCKET_BOUNDS_MS.length - 1] ?? 0;
      const lower = i === 0 ? 0 : (LATENCY_BUCKET_BOUNDS_MS[i - 1] ?? 0);
      return lower + ((upper - lower) * (rank - seen)) / c;
    }
    seen += c;
  }
  return LATENCY_BUCKET_BOUNDS_MS[LATENCY_BUCKET_BOUNDS_MS.length - 1] ?? 0;
}

const MINUTE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:00(\.000)?Z$/;
const Id = z.string().min(1).max(64);

/**
 * What the edge saw of one (deployment, version, minute): calls by the status class the caller got, and the
 * latency from receiving the request to the last byte of the upstream answer (or of the edge's own answer
 * when it refused the call). `versionId` is null for calls refused before a version was chosen (limits).
 */
export const DeploymentMetricsRecord = z.strictObject({
  orgId: Id,
  deploymentId: Id,
  versionId: Id.nullable(),
  /** Start of the UTC minute, e.g. `2026-11-23T14:05:00Z`. */
  minute: z.string().regex(MINUTE, 'the start of a UTC minute, e.g. 2026-11-23T14:05:00Z'),
  requests: StatusCounts,
  latency: LatencyHistogram,
});
export type DeploymentMetricsRecord = z.infer<typeof DeploymentMetricsRecord>;

/**
 * `POST /internal/v1/deployment-metrics` (the edge's service token): one isolate's aggregated records since
 * its last flush. `batchId` (`<isolateId>:<seq>`) is stable across retries, so a resent batch counts once.
 */
export const DeploymentMetricsBatch = z.strictObject({
  batchId: z.string().regex(/^[A-Za-z0-9_.:-]{1,200}$/),
  records: z.array(DeploymentMetricsRecord).min(1).max(5_000),
});
export type DeploymentMetricsBatch = z.infer<typeof DeploymentMetricsBatch>;

export const DeploymentMetricsAck = z.object({ batchId: z.string(), accepted: z.boolean() });
export type DeploymentMetricsAck = z.infer<typeof DeploymentMetricsAck>;

/**
 * What an agent saw of one (deployment, version, minute): calls by the status class it answered, time queued
 * in the batcher before compute started, and compute time (the model run of the batch the call was in).
 */
export const AgentDeploymentMetrics = z.strictObject({
  deploymentId: Id,
  versionId: Id.nullable(),
  minute: z.string().regex(MINUTE, 'the start of a UTC minute, e.g. 2026-11-23T14:05:00Z'),
  requests: StatusCounts,
  queue: LatencyHistogram,
  compute: LatencyHistogram,
});
export type AgentDeploymentMetrics = z.infer<typeof AgentDeploymentMetrics>;
