/**
 * Triton's statistics extension (`GET /v2/models/{m}[/versions/{v}]/stats`), which tritonclient's
 * `get_inference_statistics` reads: an agent answers one `$model_stat` for the version it serves; the edge
 * answers the sum over a deployment's replicas, under the caller's names.
 */

export const STAT_PHASES = [
  'success',
  'fail',
  'queue',
  'compute_input',
  'compute_infer',
  'compute_output',
] as const;

/** How many times, and for how long in all (ns). */
export interface DurationStat {
  count: number;
  ns: number;
}

export interface ModelStat {
  name: string;
  version: string;
  /** Ms since the epoch of the last request answered; 0 before the first. */
  last_inference: number;
  /** Rows inferred: a request of batch 8 counts 8. */
  inference_count: number;
  /** Model runs: with dynamic batching, one run serves many requests. */
  execution_count: number;
  inference_stats: Record<(typeof STAT_PHASES)[number], DurationStat>;
  batch_stats: never[];
}

export interface ModelStatsResponse {
  model_stats: ModelStat[];
}
