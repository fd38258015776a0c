import { histogramQuantile, LATENCY_BUCKETS } from '@meridian/protocol';
import type { CanaryPolicy, RevisionTotals, StepFigures } from '../../db/schema.js';
import { percent } from './policy.js';

// Judging one step of a canary: its 5xx rate and p95 latency against the old revision's over the same
// window, as the edge counted them. Pure.

/** `after − before`, class by class and bucket by bucket: what a window added to the running totals. */
export function windowOf(after: RevisionTotals, before: RevisionTotals): RevisionTotals {
  return {
    calls: Math.max(0, after.calls - before.calls),
    errors: Math.max(0, after.errors - before.errors),
    latency: Array.from({ length: LATENCY_BUCKETS }, (_, i) =>
      Math.max(0, (after.latency[i] ?? 0) - (before.latency[i] ?? 0)),
    ),
  };
}

export type Verdict =
  | { kind: 'wait'; figures: StepFigures }
  | { kind: 'pass'; figures: StepFigures; summary: string }
  | { kind: 'fail'; figures: StepFigures; summary: string };

const p95Of = (t: RevisionTotals) => histogramQuantile({ counts: t.latency, sumMs: 0 }, 0.95);
const ms = (x: number | null) => (x === null ? 'none' : `${Math.round(x)} ms`);

/**
 * The verdict on a step `elapsedMs` old. It fails as soon as the 5xx rate is certain to exceed the margin:
 * the canary's errors over at least `minCalls` calls (so a few calls cannot pass for a rate, yet a canary
 * that fails its first calls is not kept waiting for the rest), above the old revision's rate by more than
 * `maxErrorRateIncrease`. Latency is judged at the window's end, once both revisions have `minCalls` timed
 * calls: a p95 is a statistic of the whole window, never certain early. Read from the first 20-odd calls of a
 * step it was noise (a good canary on a busy two-core machine read 24 ms against 11 ms 0.6 s in, and was
 * rolled back). It passes once the window is over with `minCalls` canary calls and neither margin broken;
 * until then it waits.
 */
export function judgeStep(
  policy: CanaryPolicy,
  window: { canary: RevisionTotals; base: RevisionTotals },
  elapsedMs: number,
  now: number,
): Verdict {
  const { canary, base } = window;
  const baseRate = base.calls > 0 ? base.errors / base.calls : 0;
  const canaryRate = canary.calls > 0 ? canary.errors / canary.calls : null;
  const [canaryP95, baseP95] = [p95Of(canary), p95Of(base)];
  const figures: StepFigures = {
    canary: { calls: canary.calls, errors: canary.errors, errorRate: canaryRate, p95Ms: canaryP95 },
    base: {
      calls: base.calls,
      errors: base.errors,
      errorRate: base.calls > 0 ? baseRate : null,
      p95Ms: baseP95,
    },
    judgedAt: now,
  };
  const errors = `5xx ${percent(canaryRate ?? 0)} vs ${percent(baseRate)} over ${canary.calls} calls (old revision: ${base.calls})`;
  const atLeast = canary.errors / Math.max(canary.calls, policy.minCalls);
  if (canary.errors > 0 && atLeast - baseRate > policy.maxErrorRateIncrease)
    return {
      kind: 'fail',
      figures,
      summary: `${errors}, margin ${percent(policy.maxErrorRateIncrease)}`,
    };
  const timed = (t: RevisionTotals) => t.latency.reduce((n, c) => n + c, 0) >= policy.minCalls;
  const latency = `p95 ${ms(canaryP95)} vs ${ms(baseP95)}`;
  const windowOver = elapsedMs >= policy.windowSeconds * 1000;
  if (
    windowOver &&
    policy.maxP95LatencyRatio !== null &&
    canaryP95 !== null &&
    baseP95 !== null &&
    timed(canary) &&
    timed(base)
  ) {
    const limit = Math.max(baseP95 * policy.maxP95LatencyRatio, baseP95 + policy.p95LatencySlackMs);
    if (canaryP95 > limit)
      return {
        kind: 'fail',
        figures,
        summary: `${latency} over ${canary.calls} calls, limit ×${policy.maxP95LatencyRatio} and +${policy.p95LatencySlackMs} ms (${ms(limit)})`,
      };
  }
  if (windowOver && canary.calls >= policy.minCalls)
    return { kind: 'pass', figures, summary: `${errors}, ${latency}` };
  return { kind: 'wait', figures };
}
