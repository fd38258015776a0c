export interface BackoffPolicy {
  /** Wait after the first failure. */
  baseMs: number;
  /** No wait grows past this (a Retry-After may ask for longer, up to an hour). */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1_000, maxMs: 5 * 60_000 };

const MAX_RETRY_AFTER_MS = 3_600_000;

/**
 * How long to wait after `failures` failed attempts in a row: exponential from `baseMs`, capped at `maxMs`,
 * with jitter over the upper half so that many rows failing together do not retry together; never sooner
 * than the server's Retry-After.
 */
export function retryDelayMs(
  failures: number,
  policy: BackoffPolicy,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  const exponential = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, failures - 1));
  const jittered = exponential / 2 + (random() * exponential) / 2;
  return Math.round(Math.max(jittered, Math.min(retryAfterMs ?? 0, MAX_RETRY_AFTER_MS)));
}
