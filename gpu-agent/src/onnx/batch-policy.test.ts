import { describe, expect, it } from 'vitest';
import { AdaptiveBatchPolicy } from './batch-policy.js';

type Costs = {
  /** µs of one request run alone, warm. */
  single: number;
  /** µs of the first single runs after a batch, in order (onnxruntime back from a batch's shapes). */
  singleAfterBatch: number[];
  /** µs per row of a batch. */
  batchedPerRow: number;
};

/**
 * Drives the policy as the batcher does with a full queue: asks for a limit, "runs" that many requests
 * at the given costs, records the run. Returns the limits it asked for.
 */
function drive(policy: AdaptiveBatchPolicy, costs: () => Costs, runs: number): number[] {
  const limits: number[] = [];
  let singlesSinceBatch = Number.POSITIVE_INFINITY;
  for (let r = 0; r < runs; r++) {
    const limit = policy.nextLimit(32, 64);
    limits.push(limit);
    const c = costs();
    const us = limit === 1 ? (c.singleAfterBatch[singlesSinceBatch] ?? c.single) : c.batchedPerRow * limit;
    policy.record(limit, limit, us);
    singlesSinceBatch = limit === 1 ? singlesSinceBatch + 1 : 0;
  }
  return limits;
}

describe('AdaptiveBatchPolicy', () => {
  it('leaves batching once batches stop paying, though a single run right after a batch is slow', () => {
    // Batches are cheap at first, then cost more per row than a warm single run. Probes that counted the
    // runs right after a batch (1,050 and 800 µs, as PaddleOCR cls reads) would keep batching at 780 µs a
    // row for good.
    const policy = new AdaptiveBatchPolicy(3, 16 * 32);
    let batchedPerRow = 100;
    const costs = () => ({ single: 700, singleAfterBatch: [1_050, 800], batchedPerRow });
    drive(policy, costs, 100);
    expect(policy.mode).toBe('batching');
    batchedPerRow = 780;
    drive(policy, costs, 400);
    expect(policy.mode).toBe('unbatched');
    expect(policy.estimates.singleUs).toBeCloseTo(700);
  });

  it('probes the other side with four runs in a row, now and then', () => {
    const policy = new AdaptiveBatchPolicy(3, 8 * 32);
    const limits = drive(policy, () => ({ single: 700, singleAfterBatch: [], batchedPerRow: 100 }), 120);
    expect(policy.mode).toBe('batching');
    const afterLearning = limits.slice(20).join(',');
    expect(afterLearning).toContain(',32,1,1,1,1,32,');
    expect(afterLearning).not.toMatch(/,32,(1,){1,3}32,/);
  });

  it('serves a model it keeps unbatched almost all in single runs, though each probe takes batches of 32', () => {
    // Batches cost three times a single run per row. Probes spaced by runs (one every 64) put two thirds of
    // the rows of a deep queue into batches: 4 runs of 32 for every 64 runs of one.
    const policy = new AdaptiveBatchPolicy();
    const limits = drive(policy, () => ({ single: 100, singleAfterBatch: [], batchedPerRow: 300 }), 20_000);
    expect(policy.mode).toBe('unbatched');
    const served = limits.slice(100);
    const batchedRows = served.filter((l) => l > 1).reduce((a, b) => a + b, 0);
    const rows = served.reduce((a, b) => a + b, 0);
    expect(batchedRows).toBeGreaterThan(0);
    expect(batchedRows / rows).toBeLessThan(0.1);
  });
});
