import { LATENCY_BUCKETS, latencyBucketOf } from '@meridian/protocol';
import { describe, expect, it } from 'vitest';
import type { RevisionTotals } from '../../db/schema.js';
import { judgeStep, windowOf } from './judge.js';
import { resolveCanary } from './policy.js';

/** `calls` calls of which `errors` answered 5xx, every one taking `ms`. */
function totals(calls: number, errors: number, ms = 10): RevisionTotals {
  const latency = new Array<number>(LATENCY_BUCKETS).fill(0);
  latency[latencyBucketOf(ms)] = calls;
  return { calls, errors, latency };
}

const policy = resolveCanary({ share: 0.1, windowSeconds: 30, maxErrorRateIncrease: 0.05, minCalls: 20 });
const judge = (canary: RevisionTotals, base: RevisionTotals, elapsedS = 5) =>
  judgeStep(policy, { canary, base }, elapsedS * 1000, 0);

describe('judging a canary step', () => {
  it('rolls a canary that fails every call back after two calls, not after minCalls', () => {
    expect(judge(totals(1, 1), totals(9, 0)).kind).toBe('wait');
    const verdict = judge(totals(2, 2), totals(18, 0));
    expect(verdict.kind).toBe('fail');
    if (verdict.kind !== 'fail') return;
    expect(verdict.summary).toBe('5xx 100% vs 0% over 2 calls (old revision: 18), margin 5%');
    expect(verdict.figures.canary).toMatchObject({ calls: 2, errors: 2, errorRate: 1 });
  });

  it('compares with the old revision’s rate: both failing alike is no regression', () => {
    expect(judge(totals(40, 4), totals(400, 40), 31).kind).toBe('pass');
    expect(judge(totals(40, 7), totals(400, 40), 31).kind).toBe('fail');
  });

  it('waits for the window and for minCalls before a step passes', () => {
    expect(judge(totals(40, 0), totals(400, 0), 29).kind).toBe('wait');
    expect(judge(totals(19, 0), totals(400, 0), 300).kind).toBe('wait');
    expect(judge(totals(20, 0), totals(400, 0), 30).kind).toBe('pass');
  });

  it('fails a canary whose p95 is worse than the ratio and the slack allow, at the window end, once both have minCalls', () => {
    // Mid-window a slow p95 is not yet a verdict: the first calls of a step are noise.
    expect(judge(totals(20, 0, 400), totals(200, 0, 20), 29).kind).toBe('wait');
    const slow = judge(totals(20, 0, 400), totals(200, 0, 20), 30);
    expect(slow.kind).toBe('fail');
    if (slow.kind === 'fail') expect(slow.summary).toMatch(/^p95 \d+ ms vs \d+ ms over 20 calls, limit ×2/);
    // Ten calls are too few to read a p95 from.
    expect(judge(totals(10, 0, 400), totals(200, 0, 20), 30).kind).toBe('wait');
    // Within the slack: 2 ms → 4.5 ms is twice as slow, but not 10 ms slower.
    expect(judge(totals(40, 0, 4.5), totals(200, 0, 2), 31).kind).toBe('pass');
    const unjudged = resolveCanary({ share: 0.1, windowSeconds: 1, maxP95LatencyRatio: null });
    const both = { canary: totals(40, 0, 4000), base: totals(200, 0, 20) };
    expect(judgeStep(unjudged, both, 1000, 0).kind).toBe('pass');
  });

  it('counts a window as what the totals gained since it began', () => {
    const w = windowOf(totals(50, 5, 10), totals(20, 1, 10));
    expect(w).toMatchObject({ calls: 30, errors: 4 });
    expect(w.latency[latencyBucketOf(10)]).toBe(30);
  });
});

describe('a canary policy', () => {
  it('fills in defaults, and takes a last step of 1 as the promotion', () => {
    expect(resolveCanary({ share: 0.2 })).toEqual({
      steps: [0.2],
      windowSeconds: 60,
      maxErrorRateIncrease: 0.05,
      maxP95LatencyRatio: 2,
      p95LatencySlackMs: 10,
      minCalls: 20,
    });
    expect(resolveCanary({ steps: [0.1, 0.5, 1] }).steps).toEqual([0.1, 0.5]);
  });

  it('refuses steps that do not rise, or a share that is not the first step, naming the field', () => {
    expect(() => resolveCanary({ steps: [0.5, 0.2] })).toThrow(
      /canary\.steps\.1: each step must take a larger share/,
    );
    expect(() => resolveCanary({ share: 0.1, steps: [0.2, 0.5] })).toThrow(/canary\.share: the first step/);
    expect(() => resolveCanary({ steps: [1] })).toThrow(/canary\.steps: needs at least one share below 1/);
  });
});
