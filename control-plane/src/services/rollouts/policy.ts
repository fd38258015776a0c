import type { CanaryPolicy } from '../../db/schema.js';
import { invalidField } from '../../errors.js';

// A canary rollout's policy: what a PATCH may say, the defaults it fills in and the rules across fields that a
// per-field schema cannot state. Pure.

/** What a PATCH body's `canary` may say; absent fields take the defaults. */
export interface CanaryInput {
  share?: number;
  steps?: number[];
  windowSeconds?: number;
  maxErrorRateIncrease?: number;
  maxP95LatencyRatio?: number | null;
  p95LatencySlackMs?: number;
  minCalls?: number;
}

export const DEFAULT_CANARY = {
  share: 0.1,
  windowSeconds: 60,
  maxErrorRateIncrease: 0.05,
  maxP95LatencyRatio: 2,
  p95LatencySlackMs: 10,
  minCalls: 20,
} as const;

/**
 * The policy `input` asks for. `share` is the first step; `steps` the shares one after another (a last step
 * of 1 only restates that the rollout ends by promoting). Throws a 400 naming the field for steps that do not
 * rise, or a share that is not the first step.
 */
export function resolveCanary(input: CanaryInput): CanaryPolicy {
  const given = input.steps
    ? input.steps.filter((s, i, all) => !(s === 1 && i === all.length - 1))
    : undefined;
  if (given && given.length === 0)
    throw invalidField('canary.steps', 'needs at least one share below 1 before the promotion');
  if (given)
    for (let i = 1; i < given.length; i++) {
      const [before, after] = [given[i - 1] ?? 0, given[i] ?? 0];
      if (after <= before)
        throw invalidField(
          `canary.steps.${i}`,
          `each step must take a larger share than the last (${before})`,
        );
    }
  if (given && input.share !== undefined && given[0] !== input.share)
    throw invalidField('canary.share', `the first step: ${given[0]} in steps, ${input.share} here`);
  const steps = given ?? [input.share ?? DEFAULT_CANARY.share];
  return {
    steps,
    windowSeconds: input.windowSeconds ?? DEFAULT_CANARY.windowSeconds,
    maxErrorRateIncrease: input.maxErrorRateIncrease ?? DEFAULT_CANARY.maxErrorRateIncrease,
    maxP95LatencyRatio:
      input.maxP95LatencyRatio === undefined ? DEFAULT_CANARY.maxP95LatencyRatio : input.maxP95LatencyRatio,
    p95LatencySlackMs: input.p95LatencySlackMs ?? DEFAULT_CANARY.p95LatencySlackMs,
    minCalls: input.minCalls ?? DEFAULT_CANARY.minCalls,
  };
}

/** `10% → 50% → 100%, 60 s a step, 5xx +5 points, p95 ×2` for events. */
export function describeCanary(p: CanaryPolicy): string {
  const steps = [...p.steps, 1].map(percent).join(' → ');
  const latency =
    p.maxP95LatencyRatio === null ? 'latency not judged' : `p95 at most ×${p.maxP95LatencyRatio}`;
  return `${steps}, ${p.windowSeconds} s and ${p.minCalls} calls a step, 5xx at most +${percent(p.maxErrorRateIncrease)}, ${latency}`;
}

/** 0.1 → `10%`, 0.125 → `12.5%`. */
export const percent = (x: number) => `${Math.round(x * 1000) / 10}%`;
