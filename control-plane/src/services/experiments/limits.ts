/** MLflow's log-batch limits, kept so MLflow clients' batches fit unchanged. */
export const BATCH_LIMITS = {
  metrics: 1000,
  params: 100,
  tags: 100,
  /** MLflow counts metrics + params + tags together against this too. */
  entries: 1000,
  /** Bytes of the request body (MLflow: 1 MB). */
  bodyBytes: 1_000_000,
} as const;

/** Lengths of keys and values (MLflow's, except the artifact path which is ours). */
export const TEXT_LIMITS = {
  key: 250,
  name: 250,
  description: 5000,
  paramValue: 6000,
  tagValue: 8000,
  artifactPath: 512,
} as const;

/** Default largest artifact one upload may carry; AppDeps can change it. */
export const DEFAULT_MAX_ARTIFACT_BYTES = 512 * 1024 * 1024;
