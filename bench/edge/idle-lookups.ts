/** When an edge took requests: one span per cell it was measured in. */
export type Span = { start: number; end: number };

/**
 * The edges run with the default record bounds: a key or org record is served from the isolate or KV only
 * while it is at most KEY_KV_FRESH_SECONDS (20 s) past its last refresh, and refreshes ahead happen after
 * responses. An edge that sat idle longer than that (the other targets' cells) must look its records up
 * again on the first request after the gap: the revocation bound, not a cache miss of a warm edge.
 */
export const RECORD_FRESH_MS = 20_000;

/**
 * Whether a control-plane lookup made at `at` was the first use of a record after the edge sat idle longer
 * than `freshMs`: it fell in the warm-up of a cell whose start came more than `freshMs` after the end of
 * the edge's previous cell (or of its checks, `sinceMs`).
 */
export function afterIdleGap(at: number, spans: readonly Span[], sinceMs: number, warmupMs: number): boolean {
  const i = spans.findIndex((s) => s.start <= at && at <= s.end);
  const span = spans[i];
  if (!span) return false;
  const idleFrom = i === 0 ? sinceMs : (spans[i - 1]?.end ?? sinceMs);
  return span.start - idleFrom > RECORD_FRESH_MS && at - span.start <= warmupMs;
}
