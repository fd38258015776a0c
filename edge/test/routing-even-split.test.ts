import { describe, expect, it } from 'vitest';
import { chooseVersion } from '../src/routing/choose.js';
import { deployment, replica, version } from './helpers/routing-fixtures.js';

// The golden-ratio sequence's discrepancy: from any start, a run of up to a few thousand calls strays from
// its share by at most about 3.5 calls (3.2 at 10%, 3.5 at 50%, over 20,000 random starts), where random
// draws stray by √(w·n): 13 calls for a 10% share of 2,000.
const BOUND = 4;

describe('the unpinned split without a random source', () => {
  it('gives a 10% canary its share of every run of calls within four calls, from the first call on', () => {
    const canary = deployment('canary-even', [version(1, 90, [replica(1)]), version(2, 10, [replica(2)])]);
    let toCanary = 0;
    for (let n = 1; n <= 2_000; n++) {
      if (chooseVersion(canary)?.versionId === 'ver_2') toCanary += 1;
      // Random draws would stray by √(0.09·n): 13 calls at n = 2,000.
      expect(Math.abs(toCanary - 0.1 * n), `after ${n} calls`).toBeLessThanOrEqual(BOUND);
    }
  });

  it('keeps each deployment’s sequence apart, and any weights (here 1%) within four calls too', () => {
    const a = deployment('even-a', [version(1, 99, [replica(1)]), version(2, 1, [replica(2)])]);
    const b = deployment('even-b', [version(1, 50, [replica(3)]), version(2, 50, [replica(4)])]);
    let rare = 0;
    let half = 0;
    for (let n = 1; n <= 3_000; n++) {
      if (chooseVersion(a)?.versionId === 'ver_2') rare += 1;
      if (chooseVersion(b)?.versionId === 'ver_2') half += 1;
    }
    expect(Math.abs(rare - 30)).toBeLessThanOrEqual(BOUND);
    expect(Math.abs(half - 1_500)).toBeLessThanOrEqual(BOUND);
  });
});
