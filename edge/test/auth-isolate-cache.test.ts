import { describe, expect, it } from 'vitest';
import { IsolateCache } from '../src/auth/isolate-cache.js';

describe('IsolateCache', () => {
  it('marks an entry stale after its TTL but keeps it readable for static stability', () => {
    const cache = new IsolateCache<string>(10);
    cache.set('a', { value: 'A', fetchedAt: 1_000 }, 10_000, 1_000);

    expect(cache.get('a', 10_999)).toEqual({ value: 'A', fetchedAt: 1_000, fresh: true });
    expect(cache.get('a', 11_000)).toEqual({ value: 'A', fetchedAt: 1_000, fresh: false });
  });

  it('evicts the least recently written entry once full', () => {
    const cache = new IsolateCache<number>(3);
    for (const [i, key] of ['a', 'b', 'c'].entries()) cache.set(key, { value: i, fetchedAt: 0 }, 1_000, 0);
    cache.set('a', { value: 9, fetchedAt: 0 }, 1_000, 0); // rewritten: now the newest

    cache.set('d', { value: 3, fetchedAt: 0 }, 1_000, 0);

    expect(cache.size).toBe(3);
    expect(cache.get('b', 0)).toBeUndefined();
    expect(cache.get('a', 0)?.value).toBe(9);
  });
});
