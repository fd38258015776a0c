import { describe, expect, it } from 'vitest';
import { retryDelayMs } from './backoff.js';

const policy = { baseMs: 1_000, maxMs: 60_000 };

describe('retry backoff', () => {
  it('doubles from the base after each failure, within the upper half of the step', () => {
    expect([1, 2, 3, 4].map((n) => retryDelayMs(n, policy, undefined, () => 1))).toEqual([
      1_000, 2_000, 4_000, 8_000,
    ]);
    expect([1, 2, 3, 4].map((n) => retryDelayMs(n, policy, undefined, () => 0))).toEqual([
      500, 1_000, 2_000, 4_000,
    ]);
  });

  it('stops growing at the cap', () => {
    expect(retryDelayMs(30, policy, undefined, () => 1)).toBe(60_000);
    expect(retryDelayMs(30, policy, undefined, () => 0)).toBe(30_000);
  });

  it('never retries sooner than Retry-After, which may exceed the cap up to an hour', () => {
    expect(retryDelayMs(1, policy, 30_000, () => 0)).toBe(30_000);
    expect(retryDelayMs(1, policy, 600_000, () => 0)).toBe(600_000);
    expect(retryDelayMs(1, policy, 86_400_000, () => 0)).toBe(3_600_000);
    expect(retryDelayMs(5, policy, 100, () => 1)).toBe(16_000);
  });
});
