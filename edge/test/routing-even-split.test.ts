import { describe, expect, it } from 'vitest';
import { chooseVersion } from '../src/routing/choose.js';
import { deployment, replica, version } from './helpers/routing-fixtures.js';

describe('the unpinned split without a random source', () => {
  it('gives a 10% canary its share of every run of calls within two calls, from the first call on', () => {
    const canary = deployment('canary-even', [version(1, 90, [replica(1)]), version(2, 10, [replica(2)])]);
    let toCanary = 0;
    for (let n = 1; n <= 2_000; n++) {
      if (chooseVersion(canary)?.versionId === 'ver_2') toCanary += 1;
      // Random draws would stray by √(0.09·n): 13 calls at n = 2,000.
      expect(Math.abs(toCanary - 0.1 * n), `after ${n} calls`).toBeLessThanOrEqual(2);
    }
  });

  it('keeps each deployment’s sequence apart, and any weights (here 1%) within two calls too', () => {
    const a = deployment('even-a', [version(1, 99, [replica(1)]), version(2, 1, [replica(2)])]);
    const b = deployment('even-b', [version(1, 50, [replica(3)]), version(2, 50, [replica(4)])]);
    let rare = 0;
    let half = 0;
    for (let n = 1; n <= 3_000; n++) {
      if (chooseVersion(a)?.versionId === 'ver_2') rare += 1;
      if (chooseVersion(b)?.versionId === 'ver_2') half += 1;
    }
    expect(Math.abs(rare - 30)).toBeLessThanOrEqual(2);
    expect(Math.abs(half - 1_500)).toBeLessThanOrEqual(2);
  });
});
