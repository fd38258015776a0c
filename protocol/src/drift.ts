import { z } from 'zod';
import { AgentDeploymentMetrics } from './deployment-metrics.js';

// Drift sketches: what an agent keeps of the inputs it sampled, per deployment and feature (a column of an
// [N, F] input, or a whole tensor otherwise), and reports; the control plane compares them with a reference.
// Never the inputs themselves. Numeric values go into log-spaced buckets shared by every sender (so sketches
// merge across agents and windows, and their CDFs compare within DRIFT_GAMMA's 5 % relative width); small
// integer sets into exact counts.

/** Relative width of a numeric bucket: bucket i covers (ε·γ^(i-1), ε·γ^i] in absolute value. */
export const DRIFT_GAMMA = 1.05;
/** Absolute values below this share bucket 0. */
export const DRIFT_ZERO = 1e-9;
/** A categorical sketch holding more distinct values than this becomes numeric. */
export const MAX_CATEGORIES = 64;
const LOG_GAMMA = Math.log(DRIFT_GAMMA);

/** The numeric bucket of a value: 0 near zero, ±(1 + ⌈log_γ(|v|/ε)⌉) by sign otherwise. */
export function driftBucketOf(value: number): number {
  const magnitude = Math.abs(value);
  if (!(magnitude >= DRIFT_ZERO)) return 0;
  const index = 1 + Math.ceil(Math.log(magnitude / DRIFT_ZERO) / LOG_GAMMA);
  return value < 0 ? -index : index;
}

/** A value inside bucket `index`, for ordering buckets and reading quantiles. */
export function driftBucketValue(index: number): number {
  if (index === 0) return 0;
  const magnitude = DRIFT_ZERO * DRIFT_GAMMA ** (Math.abs(index) - 1.5);
  return index < 0 ? -magnitude : magnitude;
}

const Count = z.number().int().nonnegative().max(1e12);

export const NumericSketch = z.strictObject({
  kind: z.literal('numeric'),
  count: Count,
  /** Bucket index (decimal) → values in it. */
  bins: z.record(z.string().regex(/^-?\d{1,5}$/), Count),
});
export type NumericSketch = z.infer<typeof NumericSketch>;

export const CategoricalSketch = z.strictObject({
  kind: z.literal('categorical'),
  count: Count,
  /** Integer value (decimal) → occurrences. */
  counts: z.record(z.string().regex(/^-?\d{1,20}$/), Count),
});
export type CategoricalSketch = z.infer<typeof CategoricalSketch>;

export const FeatureSketch = z.discriminatedUnion('kind', [NumericSketch, CategoricalSketch]);
export type FeatureSketch = z.infer<typeof FeatureSketch>;

/** Adds `from` into `into` in place; a categorical sketch meeting a numeric one becomes numeric. */
export function mergeSketch(into: FeatureSketch, from: FeatureSketch): FeatureSketch {
  if (into.kind === 'categorical' && from.kind === 'categorical') {
    for (const [v, n] of Object.entries(from.counts)) into.counts[v] = (into.counts[v] ?? 0) + n;
    into.count += from.count;
    return Object.keys(into.counts).length > MAX_CATEGORIES ? toNumeric(into) : into;
  }
  const a = into.kind === 'numeric' ? into : toNumeric(into);
  const b = from.kind === 'numeric' ? from : toNumeric(from);
  for (const [bin, n] of Object.entries(b.bins)) a.bins[bin] = (a.bins[bin] ?? 0) + n;
  a.count += b.count;
  return a;
}

/** The numeric form of a categorical sketch (each value into its bucket). */
export function toNumeric(sketch: CategoricalSketch): NumericSketch {
  const bins: Record<string, number> = {};
  for (const [v, n] of Object.entries(sketch.counts)) {
    const bin = String(driftBucketOf(Number(v)));
    bins[bin] = (bins[bin] ?? 0) + n;
  }
  return { kind: 'numeric', count: sketch.count, bins };
}

/** One feature's sketch of the inputs a replica sampled since its last report. */
export const FeatureDriftSketch = z.strictObject({
  deploymentId: z.string().min(1).max(64),
  versionId: z.string().min(1).max(64).nullable(),
  /** `<input>[<column>]` for a column of an [N, F] input, `<input>` for a whole tensor. */
  feature: z.string().min(1).max(200),
  sketch: FeatureSketch,
});
export type FeatureDriftSketch = z.infer<typeof FeatureDriftSketch>;

/**
 * `POST /agent/v1/monitoring` (the agent's credential): per-deployment metrics (queue wait, compute) and drift
 * sketches since the last report. `reportId` is stable across retries, so a resent report counts once.
 */
export const AgentMonitoringReport = z.strictObject({
  reportId: z.string().regex(/^[A-Za-z0-9_.:-]{1,200}$/),
  metrics: z.array(AgentDeploymentMetrics).max(5_000),
  drift: z.array(FeatureDriftSketch).max(5_000),
});
export type AgentMonitoringReport = z.infer<typeof AgentMonitoringReport>;

export const AgentMonitoringAck = z.object({ reportId: z.string(), accepted: z.boolean() });
export type AgentMonitoringAck = z.infer<typeof AgentMonitoringAck>;
