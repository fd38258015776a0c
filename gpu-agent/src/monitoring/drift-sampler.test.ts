import { describe, expect, it } from 'vitest';
import { DriftSampler, MAX_VALUES_PER_TENSOR } from './drift-sampler.js';

describe('drift sampler', () => {
  it('sketches each column of an [N, F] input, one sketch per other tensor, and counts small integers', () => {
    const sampler = new DriftSampler(1);
    sampler.add('dep_1', 'v1', [
      { name: 'x', datatype: 'FP32', shape: [3, 2], data: Float32Array.from([1, -1, 2, -2, 3, -3]) },
      { name: 'img', datatype: 'FP32', shape: [1, 3, 40, 40], data: new Float32Array(4800).fill(0.5) },
      { name: 'cat', datatype: 'INT64', shape: [2], data: BigInt64Array.from([3n, 3n]) },
    ]);
    const out = sampler.drain();
    expect(out.map((s) => [s.feature, s.sketch.count])).toEqual([
      ['x[0]', 3],
      ['x[1]', 3],
      ['img', 4800 / Math.floor(4800 / MAX_VALUES_PER_TENSOR)],
      ['cat', 2],
    ]);
    expect(out[3]?.sketch).toEqual({ kind: 'categorical', count: 2, counts: { '3': 2 } });
    // Only sketches leave: bucket counts, never the values.
    expect(JSON.stringify(out)).not.toContain('"data"');
    expect(sampler.drain()).toEqual([]);
  });

  it('samples the configured share of requests', () => {
    let n = 0;
    const sampler = new DriftSampler(0.1, () => (n++ * 0.37) % 1);
    const picked = Array.from({ length: 1_000 }, () => sampler.shouldSample()).filter(Boolean).length;
    expect(picked).toBeGreaterThan(80);
    expect(picked).toBeLessThan(120);
    sampler.setRate(0);
    expect(sampler.shouldSample()).toBe(false);
  });
});
