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

  it('probes single runs with twelve in a row (eight not counted), now and then', () => {
    const policy = new AdaptiveBatchPolicy(3, 8 * 32);
    const limits = drive(policy, () => ({ single: 700, singleAfterBatch: [], batchedPerRow: 100 }), 160);
    expect(policy.mode).toBe('batching');
    const afterLearning = limits.slice(30).join(',');
    expect(afterLearning).toContain(`,32,${'1,'.repeat(12)}32,`);
    expect(afterLearning).not.toMatch(/,32,(1,){1,11}32,/);
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

describe('AdaptiveBatchPolicy readings', () => {
  /** Costs a test changes as it goes (`now`), read by the drive at each run. */
  function adjustable(single: number, batchedPerRow: number) {
    const now = { single, batchedPerRow };
    return { now, costs: (): Costs => ({ ...now, singleAfterBatch: [] }) };
  }

  /** The mode after each run of `runs`, driven one run at a time. */
  function modes(policy: AdaptiveBatchPolicy, costs: () => Costs, runs: number): string[] {
    return Array.from({ length: runs }, () => {
      drive(policy, costs, 1);
      return policy.mode;
    });
  }

  it("does not let a model's cold first runs decide", () => {
    // PaddleOCR cls: its first single runs took 8.9, 2.7 and 1.2 ms, 0.7 ms warm; a batched row costs about
    // the same. An estimate started from the cold runs kept the agent batching for whole benchmark cells.
    const policy = new AdaptiveBatchPolicy();
    const cold = [8_900, 2_700, 1_200];
    let run = 0;
    const costs = () => ({ single: cold[run++] ?? 700, singleAfterBatch: [], batchedPerRow: 680 });
    const seen = modes(policy, costs, 3_000);
    expect(seen.filter((m) => m === 'batching')).toEqual([]);
    expect(policy.mode).toBe('unbatched');
  });

  it('lets one probe replace what the other side read a probe ago', () => {
    const policy = new AdaptiveBatchPolicy(5, 2048);
    const { now, costs } = adjustable(700, 100);
    drive(policy, costs, 200);
    expect(policy.mode).toBe('batching');
    // Single runs got cheap and batches dear: one probe (within 2,048 rows, 64 batches) shows it.
    now.single = 100;
    now.batchedPerRow = 300;
    const seen = modes(policy, costs, 64 + 12 + 2);
    expect(seen.at(-1)).toBe('unbatched');
  });

  it('keeps its mode through a few stalled runs', () => {
    // A model thread descheduled now and then: one single run in seven takes 5 ms instead of 0.7 ms.
    const policy = new AdaptiveBatchPolicy();
    let run = 0;
    const costs = () => ({ single: run++ % 7 === 6 ? 5_000 : 700, singleAfterBatch: [], batchedPerRow: 800 });
    const seen = modes(policy, costs, 5_000);
    expect(seen.filter((m) => m === 'batching')).toEqual([]);
  });

  it('measures the other side again before switching when only the served side was re-read', () => {
    // Served unbatched; then the main thread gets busier and every run is slower, single runs 1.3 ms and
    // batched rows 1.15 ms. Against the batches' last reading (0.9 ms) single runs now look dear; measured
    // again under the same load, batches save too little to pay.
    const policy = new AdaptiveBatchPolicy();
    const { now, costs } = adjustable(700, 900);
    drive(policy, costs, 200);
    expect(policy.mode).toBe('unbatched');
    now.single = 1_300;
    now.batchedPerRow = 1_150;
    const limits: number[] = [];
    const seen = Array.from({ length: 3_000 }, () => {
      limits.push(...drive(policy, costs, 1));
      return policy.mode;
    });
    expect(seen.filter((m) => m === 'batching')).toEqual([]);
    // It did measure them again, soon after single runs crossed the old reading.
    expect(limits.slice(0, 300).filter((l) => l > 1).length).toBeGreaterThan(0);
  });
});
