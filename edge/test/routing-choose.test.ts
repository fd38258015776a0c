import { describe, expect, it } from 'vitest';
import { chooseReplica, chooseVersion, findPinnedVersion, hashKey } from '../src/routing/choose.js';
import { OutstandingRequests } from '../src/routing/outstanding.js';
import { deployment, replica, version } from './helpers/routing-fixtures.js';

// A seeded generator, so distribution checks are exact and repeatable.
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const split = deployment('fraud', [
  version(1, 80, [replica(1), replica(2)]),
  version(2, 20, [replica(3)]),
  version(3, 0, [replica(4)]),
]);

function shares(pick: (i: number) => string | undefined, n: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const id = pick(i) ?? 'none';
    counts[id] = (counts[id] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).map(([k, c]) => [k, c / n]));
}

describe('chooseVersion', () => {
  it('splits unpinned traffic by weight and sends none to a version at weight 0', () => {
    const random = seeded(7);
    const got = shares(() => chooseVersion(split, { random })?.versionId, 20_000);

    expect(got.ver_1).toBeCloseTo(0.8, 1);
    expect(got.ver_2).toBeCloseTo(0.2, 1);
    expect(got.ver_3).toBeUndefined();
  });

  it('gives a sticky caller the same version on every call', () => {
    for (const caller of ['key_a', 'key_b', 'key_c', 'usr_d']) {
      const first = chooseVersion(split, { stickyKey: caller, random: seeded(1) });
      for (let i = 0; i < 50; i++)
        expect(chooseVersion(split, { stickyKey: caller, random: seeded(i) })).toBe(first);
    }
  });

  it('spreads sticky callers over the versions by weight', () => {
    const got = shares((i) => chooseVersion(split, { stickyKey: `key_${i}` })?.versionId, 20_000);

    expect(got.ver_1).toBeCloseTo(0.8, 1);
    expect(got.ver_2).toBeCloseTo(0.2, 1);
  });

  it('keys stickiness by deployment too, so one caller is not on the canary of every deployment', () => {
    expect(hashKey('key_a|dep_x')).not.toBe(hashKey('key_a|dep_y'));
  });

  it('pins by version number and by version id, even a version at weight 0', () => {
    expect(chooseVersion(split, { pinned: '2' })?.versionId).toBe('ver_2');
    expect(chooseVersion(split, { pinned: 'ver_1' })?.version).toBe(1);
    expect(chooseVersion(split, { pinned: '3' })?.versionId).toBe('ver_3');
  });

  it('finds no version for an unknown pin', () => {
    for (const pin of ['9', 'ver_9', '', '01', '1.0', '-1'])
      expect(findPinnedVersion(split, pin)).toBeUndefined();
  });

  it('skips a weighted version that has no replica, and finds none when no weighted version has one', () => {
    const rolling = deployment('r', [version(1, 50, []), version(2, 50, [replica(1)])]);
    const random = seeded(3);
    for (let i = 0; i < 100; i++) expect(chooseVersion(rolling, { random })?.versionId).toBe('ver_2');

    expect(chooseVersion(deployment('e', [version(1, 100, [])]))).toBeUndefined();
    expect(chooseVersion(deployment('z', [version(1, 0, [replica(1)])]))).toBeUndefined();
  });
});

describe('chooseReplica', () => {
  const replicas = [replica(1), replica(2), replica(3)];

  it('prefers the less loaded of two', () => {
    const load = new Map([
      ['wl_1', 5],
      ['wl_2', 1],
    ]);
    const random = seeded(11);
    for (let i = 0; i < 100; i++)
      expect(
        chooseReplica([replica(1), replica(2)], (id) => load.get(id) ?? 0, new Set(), random)?.workloadId,
      ).toBe('wl_2');
  });

  it('never picks the most loaded of three, and spreads over the others', () => {
    const load = new Map([['wl_2', 10]]);
    const random = seeded(5);
    const got = shares(
      () => chooseReplica(replicas, (id) => load.get(id) ?? 0, new Set(), random)?.workloadId,
      3000,
    );

    expect(got.wl_2).toBeUndefined();
    expect(got.wl_1).toBeGreaterThan(0.3);
    expect(got.wl_3).toBeGreaterThan(0.3);
  });

  it('follows the outstanding counts the isolate tracks', () => {
    const outstanding = new OutstandingRequests();
    const endA = outstanding.start('wl_1');
    outstanding.start('wl_1');
    const random = seeded(9);

    expect(chooseReplica([replica(1), replica(2)], outstanding.count, new Set(), random)?.workloadId).toBe(
      'wl_2',
    );
    endA();
    endA();
    expect(outstanding.count('wl_1')).toBe(1);
  });

  it('excludes replicas already tried, and finds none once all are', () => {
    const random = seeded(13);
    for (let i = 0; i < 50; i++)
      expect(chooseReplica(replicas, () => 0, new Set(['wl_1', 'wl_3']), random)?.workloadId).toBe('wl_2');

    expect(chooseReplica(replicas, () => 0, new Set(['wl_1', 'wl_2', 'wl_3']))).toBeUndefined();
    expect(chooseReplica([], () => 0)).toBeUndefined();
  });
});
