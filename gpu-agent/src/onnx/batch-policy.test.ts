import { describe, expect, it } from 'vitest';
import { AdaptiveBatchPolicy } from './batch-policy.js';

type Costs = {
  /** µs of one request run alone, warm. */
  single: number;
  /** µs of one request run alone right after a batch (onnxruntime reshaping for one row). */
  singleAfterBatch: number;
  /** µs per row of a batch. */
  batchedPerRow: number;
};

/**
 * Drives the policy as the batcher does with a full queue: asks for a limit, "runs" that many requests
 * at the given costs, records the run. Returns the limits it asked for.
 */
function drive(policy: AdaptiveBatchPolicy, costs: () => Costs, runs: number): number[] {
  const limits: number[] = [];
  let lastWasBatch = false;
  for (let r = 0; r < runs; r++) {
    const limit = policy.nextLimit(32, 64);
    limits.push(limit);
    const c = costs();
    const us = limit === 1 ? (lastWasBatch ? c.singleAfterBatch : c.single) : c.batchedPerRow * limit;
    policy.record(limit, limit, us);
    lastWasBatch = limit > 1;
  }
  return limits;
}

describe('AdaptiveBatchPolicy', () => {
  it('leaves batching once batches stop paying, though a single run right after a batch is slow', () => {
    // Batches are cheap at first, then cost more per row than a warm single run. A lone probe would read
    // single runs at their after-a-batch cost (1,050 µs) and keep batching at 900 µs a row for good.
    const policy = new AdaptiveBatchPolicy(3, 16);
    let batchedPerRow = 100;
    const costs = () => ({ single: 700, singleAfterBatch: 1_050, batchedPerRow });
    drive(policy, costs, 100);
    expect(policy.mode).toBe('batching');
    batchedPerRow = 900;
    drive(policy, costs, 400);
    expect(policy.mode).toBe('unbatched');
    expect(policy.estimates.singleUs).toBeCloseTo(700);
  });

  it('probes the other side with two runs in a row, now and then', () => {
    const policy = new AdaptiveBatchPolicy(3, 8);
    const limits = drive(policy, () => ({ single: 700, singleAfterBatch: 700, batchedPerRow: 100 }), 120);
    expect(policy.mode).toBe('batching');
    const afterLearning = limits.slice(20).join(',');
    expect(afterLearning).toContain(',32,1,1,32,');
    expect(afterLearning).not.toMatch(/,32,1,32,/);
  });
});
