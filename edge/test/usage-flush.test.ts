import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import type { UsageRecord } from '@meridian/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Caller } from '../src/caller.js';
import { admit } from '../src/limits/admit.js';
import { MAX_RETRY_DELAY_MS, retryDelayMs } from '../src/usage/flush.js';
import { testEnv } from './helpers/auth-env.js';
import { FakeControlPlane, uniqueId } from './helpers/auth-fake-control-plane.js';

// Usage is counted in the real OrgLimiter Durable Object and flushed by its alarm, which the test runs with
// runDurableObjectAlarm. The control plane is the fake behind a stubbed fetch (see its file for why); the
// object runs in the test's isolate, so the stub reaches it. Fake Date, set in the future, keeps the real
// alarm from firing on its own.

const env = testEnv();
const NOON = Date.UTC(2031, 4, 14, 12); // 2031-05-14T12:00:00Z
let cp: FakeControlPlane;

function limiterOf(orgId: string) {
  return env.ORG_LIMITER.get(env.ORG_LIMITER.idFromName(orgId));
}

function keyCaller(orgId: string, keyId: string): Caller {
  return {
    kind: 'api_key',
    orgId,
    keyId,
    userId: null,
    scopes: ['predict'],
    rateLimits: [],
    org: { orgId, plan: 'pro', monthlyCallQuota: 100_000, suspended: false, suspendedReason: null },
  };
}

/** One call admitted at `atMs` and served by the edge itself (a response cache hit: the edge records it), or failed. */
async function call(
  caller: Caller,
  atMs: number,
  outcome: {
    deploymentId: string;
    ok?: boolean;
    bytesIn?: number;
    bytesOut?: number;
    idempotencyKey?: string;
  },
): Promise<void> {
  vi.setSystemTime(atMs);
  const admission = await admit(env, caller);
  if (outcome.ok === false) admission.failed();
  else await admission.servedAtEdge({ bytesIn: 0, bytesOut: 0, ...outcome });
}

function alarmOf(orgId: string): Promise<number | null> {
  return runInDurableObject(limiterOf(orgId), (_, state) => state.storage.getAlarm());
}

function storedRecords(): UsageRecord[] {
  return [...cp.batches.values()].flatMap((batch) => batch.records);
}

beforeEach(() => {
  cp = new FakeControlPlane().install();
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(NOON);
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

describe('usage counting', () => {
  it('aggregates successful calls per key, deployment and UTC minute, with their bytes', async () => {
    const orgId = uniqueId('org');
    const caller = keyCaller(orgId, 'key_a');
    await call(caller, NOON + 10_000, { deploymentId: 'dep_a', bytesIn: 10, bytesOut: 100 });
    await call(caller, NOON + 50_000, { deploymentId: 'dep_a', bytesIn: 5, bytesOut: 50 });
    await call(caller, NOON + 55_000, { deploymentId: 'dep_b', bytesIn: 1, bytesOut: 2 });
    await call(caller, NOON + 58_000, { deploymentId: 'dep_a', ok: false, bytesIn: 99 });
    await call(caller, NOON + 65_000, { deploymentId: 'dep_a', bytesIn: 7, bytesOut: 70 });
    const user: Caller = { ...caller, kind: 'user', keyId: null, userId: 'usr_1' };
    await call(user, NOON + 20_000, { deploymentId: 'dep_a', bytesIn: 3, bytesOut: 30 });

    expect(await alarmOf(orgId)).toBe(NOON + 10_000 + 10_000);
    expect(await runDurableObjectAlarm(limiterOf(orgId))).toBe(true);

    expect(cp.batches.size).toBe(1);
    const [batchId] = cp.batches.keys();
    expect(batchId).toMatch(new RegExp(`^${orgId}:\\d+$`));
    const base = { orgId, calls: 1 };
    expect(storedRecords()).toEqual(
      expect.arrayContaining([
        {
          ...base,
          keyId: 'key_a',
          userId: null,
          deploymentId: 'dep_a',
          minute: '2031-05-14T12:00:00Z',
          calls: 2,
          bytesIn: 15,
          bytesOut: 150,
        },
        {
          ...base,
          keyId: 'key_a',
          userId: null,
          deploymentId: 'dep_b',
          minute: '2031-05-14T12:00:00Z',
          bytesIn: 1,
          bytesOut: 2,
        },
        {
          ...base,
          keyId: 'key_a',
          userId: null,
          deploymentId: 'dep_a',
          minute: '2031-05-14T12:01:00Z',
          bytesIn: 7,
          bytesOut: 70,
        },
        {
          ...base,
          keyId: null,
          userId: 'usr_1',
          deploymentId: 'dep_a',
          minute: '2031-05-14T12:00:00Z',
          bytesIn: 3,
          bytesOut: 30,
        },
      ]),
    );
    expect(storedRecords()).toHaveLength(4);
  });

  it('keeps a call with an Idempotency-Key as a record of its own, once per key, beside the counters', async () => {
    const orgId = uniqueId('org');
    const caller = keyCaller(orgId, 'key_a');
    await call(caller, NOON + 1_000, { deploymentId: 'dep_a', bytesIn: 1, idempotencyKey: 'k-1' });
    // The caller retried k-1 and the cache answered it again: still one call.
    await call(caller, NOON + 2_000, { deploymentId: 'dep_a', bytesIn: 1, idempotencyKey: 'k-1' });
    await call(caller, NOON + 3_000, { deploymentId: 'dep_a', bytesIn: 2, idempotencyKey: 'k-2' });
    await call(caller, NOON + 4_000, { deploymentId: 'dep_a', bytesIn: 4 });
    await call(caller, NOON + 5_000, { deploymentId: 'dep_a', bytesIn: 4 });
    expect(await runDurableObjectAlarm(limiterOf(orgId))).toBe(true);

    const base = {
      orgId,
      keyId: 'key_a',
      userId: null,
      deploymentId: 'dep_a',
      minute: '2031-05-14T12:00:00Z',
    };
    expect(storedRecords()).toEqual(
      expect.arrayContaining([
        { ...base, calls: 2, bytesIn: 8, bytesOut: 0 },
        { ...base, calls: 1, bytesIn: 1, bytesOut: 0, idempotencyKey: 'k-1' },
        { ...base, calls: 1, bytesIn: 2, bytesOut: 0, idempotencyKey: 'k-2' },
      ]),
    );
    expect(storedRecords()).toHaveLength(3);
  });

  it('sends nothing and sets no new alarm once everything is acknowledged', async () => {
    const orgId = uniqueId('org');
    await call(keyCaller(orgId, 'key_a'), NOON, { deploymentId: 'dep_a' });
    await runDurableObjectAlarm(limiterOf(orgId));
    const sends = cp.usageAttempts.length;

    expect(await alarmOf(orgId)).toBeNull();
    await runInDurableObject(limiterOf(orgId), (limiter) => limiter.flush());
    expect(cp.usageAttempts).toHaveLength(sends);
  });
});

describe('flushing while the control plane is unavailable', () => {
  it('keeps the sealed batch and later sends it once, under the same id, before newer usage', async () => {
    const orgId = uniqueId('org');
    const caller = keyCaller(orgId, 'key_a');
    await call(caller, NOON + 1_000, { deploymentId: 'dep_a', bytesIn: 1 });
    await call(caller, NOON + 2_000, { deploymentId: 'dep_a', bytesIn: 1 });
    cp.down = true;
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});

    vi.setSystemTime(NOON + 11_000);
    await runDurableObjectAlarm(limiterOf(orgId));
    expect(cp.count('POST /internal/v1/usage')).toBe(1);
    expect(cp.batches.size).toBe(0);
    // Retried with backoff: ~1 interval after the first failure, ~2 after the second.
    const firstRetry = (await alarmOf(orgId)) ?? 0;
    expect(firstRetry - (NOON + 11_000)).toBeGreaterThanOrEqual(8_000);
    expect(firstRetry - (NOON + 11_000)).toBeLessThanOrEqual(12_000);
    vi.setSystemTime(firstRetry);
    await runDurableObjectAlarm(limiterOf(orgId));
    const secondRetry = (await alarmOf(orgId)) ?? 0;
    expect(secondRetry - firstRetry).toBeGreaterThanOrEqual(16_000);
    expect(secondRetry - firstRetry).toBeLessThanOrEqual(24_000);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('"failures":2'));

    // Counted while the control plane was down: kept apart from the sealed batch.
    await call(caller, NOON + 70_000, { deploymentId: 'dep_a', bytesIn: 5 });
    cp.down = false;
    await runDurableObjectAlarm(limiterOf(orgId));

    expect(cp.usageAttempts).toHaveLength(2);
    const [first, second] = cp.usageAttempts;
    expect(Number(second?.split(':')[1])).toBe(Number(first?.split(':')[1]) + 1);
    expect(cp.batches.get(first ?? '')?.records).toEqual([
      expect.objectContaining({ minute: '2031-05-14T12:00:00Z', calls: 2, bytesIn: 2 }),
    ]);
    expect(cp.batches.get(second ?? '')?.records).toEqual([
      expect.objectContaining({ minute: '2031-05-14T12:01:00Z', calls: 1, bytesIn: 5 }),
    ]);

    await runInDurableObject(limiterOf(orgId), (limiter) => limiter.flush());
    expect(cp.usageAttempts).toHaveLength(2);
  });

  it('resends a batch whose acknowledgement was lost under the same id, stored once', async () => {
    const orgId = uniqueId('org');
    await call(keyCaller(orgId, 'key_a'), NOON, { deploymentId: 'dep_a' });
    cp.loseUsageAcks = true;
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    await runDurableObjectAlarm(limiterOf(orgId));
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('batches kept for retry'));

    cp.loseUsageAcks = false;
    await runDurableObjectAlarm(limiterOf(orgId));

    const [first, retry] = cp.usageAttempts;
    expect(cp.usageAttempts).toHaveLength(2);
    expect(retry).toBe(first);
    expect(cp.batches.size).toBe(1);
    expect(storedRecords()).toEqual([expect.objectContaining({ calls: 1 })]);
    expect(await alarmOf(orgId)).toBeNull();
  });
});

describe('retryDelayMs', () => {
  it('doubles the flush interval per failure, capped at five minutes, within ±20 %', () => {
    const middle = () => 0.5;
    expect([1, 2, 3, 4, 10].map((n) => retryDelayMs(n, 10_000, middle))).toEqual([
      10_000,
      20_000,
      40_000,
      80_000,
      MAX_RETRY_DELAY_MS,
    ]);
    expect(retryDelayMs(1, 10_000, () => 0)).toBe(8_000);
    expect(retryDelayMs(1, 10_000, () => 1)).toBe(12_000);
    expect(retryDelayMs(50, 10_000, () => 1)).toBe(MAX_RETRY_DELAY_MS);
  });
});
