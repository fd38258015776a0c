import { driftBucketOf, type FeatureSketch } from '@meridian/protocol';
import { describe, expect, it } from 'vitest';
import { chiSquare, compareSketches } from './compare.js';

/** Seeded N(mean, 1) samples (mulberry32 + Box–Muller), so the test is the same on every run. */
function normals(n: number, mean: number, seed: number): number[] {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Array.from(
    { length: n },
    () => mean + Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform()),
  );
}

function sketch(values: number[]): FeatureSketch {
  const bins: Record<string, number> = {};
  for (const v of values) {
    const b = String(driftBucketOf(v));
    bins[b] = (bins[b] ?? 0) + 1;
  }
  return { kind: 'numeric', count: values.length, bins };
}

describe('drift comparison', () => {
  it('finds a 0.8 shift with KS on small samples and PSI on large ones, and none between equal distributions', () => {
    for (const n of [300, 2_000]) {
      let falseAlarms = 0;
      for (let seed = 1; seed <= 20; seed += 1) {
        const reference = sketch(normals(n, 0, seed));
        const same = compareSketches(reference, sketch(normals(n, 0, seed + 1000)));
        const shifted = compareSketches(reference, sketch(normals(n, 0.8, seed + 2000)));
        expect(same.method).toBe(n < 1_000 ? 'ks' : 'psi');
        expect(shifted.drifted).toBe(true);
        if (same.drifted) falseAlarms += 1;
      }
      // KS at p < 0.05 alarms by chance about 1 time in 20; PSI at 0.1 on 2,000 samples practically never.
      expect(falseAlarms).toBeLessThanOrEqual(n < 1_000 ? 3 : 0);
    }
  });

  it('judges small categorical counts with chi² and its p-value', () => {
    const same = chiSquare([50, 50], [48, 52]);
    expect(same.drifted).toBe(false);
    const moved = chiSquare([50, 50], [80, 20]);
    expect(moved.method).toBe('chi2');
    // χ² = 19.78 with 1 degree of freedom: p ≈ 8.7e-6.
    expect(moved.score).toBeCloseTo(19.78, 1);
    expect(moved.pValue ?? 1).toBeLessThan(1e-4);
    expect(moved.drifted).toBe(true);
  });
});
