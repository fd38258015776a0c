import type { ApiKeyResolution } from '@meridian/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { hashApiKey } from '../src/auth/records.js';
import type { Env } from '../src/env.js';
import { bearer, whoAmI, whoAmIApp } from './helpers/auth-app.js';
import { testEnv } from './helpers/auth-env.js';
import { FakeControlPlane, uniqueId } from './helpers/auth-fake-control-plane.js';

// Keys are resolved through the isolate's cache, then KV (the real binding in workerd), then the fake
// control plane. Time is moved with fake Date; KEY_CACHE_SECONDS = 10 and KEY_KV_FRESH_SECONDS = 20.

const RESOLVE = 'POST /internal/v1/api-keys/resolve';
const app = whoAmIApp();
let cp: FakeControlPlane;
let env: Env;
let t0: number;

function at(seconds: number): void {
  vi.setSystemTime(t0 + seconds * 1000);
}

async function kvRecord(key: string): Promise<{ value: ApiKeyResolution; fetchedAt: number } | null> {
  return env.EDGE_KV.get(`key:${await hashApiKey(key)}`, 'json');
}

beforeEach(() => {
  cp = new FakeControlPlane().install();
  env = testEnv();
  vi.useFakeTimers({ toFake: ['Date'] });
  t0 = Date.now();
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('API key cache order', () => {
  it('asks the control plane on a miss, stores the record in KV and then answers from the isolate', async () => {
    const orgId = uniqueId('org');
    const key = await cp.addKey({ orgId, keyId: 'key_cached', scopes: ['predict', 'models:read'] });

    const results = [];
    for (let i = 0; i < 3; i++) results.push(await whoAmI(app, env, { headers: bearer(key) }));

    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(results[0]?.caller).toMatchObject({
      kind: 'api_key',
      orgId,
      keyId: 'key_cached',
      userId: null,
      scopes: ['predict', 'models:read'],
      org: { orgId, suspended: false },
    });
    expect(cp.count(RESOLVE)).toBe(1);
    expect(cp.count(`GET /internal/v1/orgs/${orgId}`)).toBe(1);
    expect(await kvRecord(key)).toEqual({
      value: expect.objectContaining({ keyId: 'key_cached' }),
      fetchedAt: t0,
    });
  });

  it('reads KV, not the control plane, once the isolate entry is older than KEY_CACHE_SECONDS', async () => {
    const key = await cp.addKey({ orgId: uniqueId('org'), scopes: ['predict'] });
    await whoAmI(app, env, { headers: bearer(key) });
    // Another isolate refreshed the record in KV meanwhile: only a KV read can see this scope.
    const stored = await kvRecord(key);
    if (stored?.value.status !== 'active') throw new Error('expected an active record in KV');
    await env.EDGE_KV.put(
      `key:${await hashApiKey(key)}`,
      JSON.stringify({ ...stored, value: { ...stored.value, scopes: ['predict:from-kv'] } }),
    );

    at(5);
    expect((await whoAmI(app, env, { headers: bearer(key) })).caller?.scopes).toEqual(['predict']);
    at(11);
    expect((await whoAmI(app, env, { headers: bearer(key) })).caller?.scopes).toEqual(['predict:from-kv']);
    expect(cp.count(RESOLVE)).toBe(1);
  });

  it('asks the control plane again once the KV record is older than KEY_KV_FRESH_SECONDS', async () => {
    const key = await cp.addKey({ orgId: uniqueId('org') });
    await whoAmI(app, env, { headers: bearer(key) });

    at(21);
    const res = await whoAmI(app, env, { headers: bearer(key) });

    expect(res.status).toBe(200);
    expect(cp.count(RESOLVE)).toBe(2);
    expect((await kvRecord(key))?.fetchedAt).toBe(t0 + 21_000);
  });

  it('shares one control-plane call among concurrent misses for the same key', async () => {
    const key = await cp.addKey({ orgId: uniqueId('org') });
    cp.resolveDelayMs = 50;

    const results = await Promise.all(
      Array.from({ length: 20 }, () => whoAmI(app, env, { headers: bearer(key) })),
    );

    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(cp.count(RESOLVE)).toBe(1);
  });
});

describe('negative answers', () => {
  it('remembers an unknown key for 5 s in the isolate and writes nothing to KV', async () => {
    const key = 'mk_test_thiskeywasnevercreatedanywhere0000000000';

    expect((await whoAmI(app, env, { headers: bearer(key) })).status).toBe(401);
    at(4);
    expect((await whoAmI(app, env, { headers: bearer(key) })).status).toBe(401);
    expect(cp.count(RESOLVE)).toBe(1);
    expect(await kvRecord(key)).toBeNull();

    at(6);
    expect((await whoAmI(app, env, { headers: bearer(key) })).status).toBe(401);
    expect(cp.count(RESOLVE)).toBe(2);
  });

  it('refuses a malformed key without asking anyone', async () => {
    const res = await whoAmI(app, env, { headers: bearer('mk_live_short') });

    expect(res.status).toBe(401);
    expect(cp.requests).toEqual([]);
  });
});

describe('revocation', () => {
  it('refuses a revoked key no later than KEY_CACHE_SECONDS + KEY_KV_FRESH_SECONDS after it is revoked', async () => {
    const key = await cp.addKey({ orgId: uniqueId('org') });
    await whoAmI(app, env, { headers: bearer(key) });
    await cp.setKeyStatus(key, 'revoked');

    // Worst case: the isolate re-reads a KV record just before it stops being fresh (19 s) and trusts it
    // for another 10 s, so the revoked key still passes until just before 29 s…
    at(19);
    expect((await whoAmI(app, env, { headers: bearer(key) })).status).toBe(200);
    at(28.999);
    expect((await whoAmI(app, env, { headers: bearer(key) })).status).toBe(200);
    // …and no later than 30 s it is refused.
    at(30.001);
    const res = await whoAmI(app, env, { headers: bearer(key) });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ error: { code: 'unauthenticated', message: 'API key revoked' } });
  });

  it('overwrites the KV record of a revoked key so that an outage cannot revive it', async () => {
    const key = await cp.addKey({ orgId: uniqueId('org') });
    await whoAmI(app, env, { headers: bearer(key) });
    await cp.setKeyStatus(key, 'revoked');
    at(31);
    expect((await whoAmI(app, env, { headers: bearer(key) })).status).toBe(401);
    expect((await kvRecord(key))?.value).toEqual({ status: 'revoked' });

    cp.down = true;
    at(120);
    expect((await whoAmI(app, env, { headers: bearer(key) })).status).toBe(401);
  });

  it('refuses a key past its expiresAt even while its record is cached', async () => {
    const key = await cp.addKey({ orgId: uniqueId('org'), expiresAt: new Date(t0 + 3_000).toISOString() });
    expect((await whoAmI(app, env, { headers: bearer(key) })).status).toBe(200);

    at(4);
    const res = await whoAmI(app, env, { headers: bearer(key) });

    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ error: { message: 'API key expired' } });
    expect(cp.count(RESOLVE)).toBe(1);
  });
});

describe('control plane unavailable', () => {
  it('keeps serving a cached caller from a stale KV record (static stability)', async () => {
    const orgId = uniqueId('org');
    const key = await cp.addKey({ orgId, keyId: 'key_stable' });
    await whoAmI(app, env, { headers: bearer(key) });
    cp.down = true;

    at(600);
    const res = await whoAmI(app, env, { headers: bearer(key) });

    expect(res.status).toBe(200);
    expect(res.caller).toMatchObject({ keyId: 'key_stable', orgId });
    expect(cp.count(RESOLVE)).toBe(2);
  });

  it('serves a record another isolate left in KV, however old, when the control plane is down', async () => {
    const orgId = uniqueId('org');
    const key = await cp.addKey({ orgId, keyId: 'key_from_elsewhere' });
    const hash = await hashApiKey(key);
    const old = t0 - 3_600_000;
    await env.EDGE_KV.put(`key:${hash}`, JSON.stringify({ value: cp.keys.get(hash), fetchedAt: old }));
    await env.EDGE_KV.put(`org:${orgId}`, JSON.stringify({ value: cp.orgs.get(orgId), fetchedAt: old }));
    cp.down = true;

    const res = await whoAmI(app, env, { headers: bearer(key) });

    expect(res.status).toBe(200);
    expect(res.caller?.keyId).toBe('key_from_elsewhere');
  });

  it('answers 503 for a key it has never seen', async () => {
    const key = await cp.addKey({ orgId: uniqueId('org') });
    cp.down = true;

    const res = await whoAmI(app, env, { headers: bearer(key) });

    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ error: { code: 'unavailable' } });
    expect(res.headers.get('retry-after')).toBe('5');
  });
});

describe('org status', () => {
  it('answers 402 with the reason once the org is suspended, within the same bound', async () => {
    const orgId = uniqueId('org');
    const key = await cp.addKey({ orgId });
    expect((await whoAmI(app, env, { headers: bearer(key) })).status).toBe(200);
    cp.addOrg(orgId, { suspended: true, suspendedReason: 'payment failed' });

    at(30.001);
    const res = await whoAmI(app, env, { headers: bearer(key) });

    expect(res.status).toBe(402);
    expect(res.body).toMatchObject({
      error: { code: 'payment_required', message: expect.stringContaining('payment failed') },
    });
  });

  it('refuses a key whose org no longer exists', async () => {
    const orgId = uniqueId('org');
    const key = await cp.addKey({ orgId });
    cp.orgs.delete(orgId);

    expect((await whoAmI(app, env, { headers: bearer(key) })).status).toBe(401);
  });
});

describe('refresh ahead, with a request context', () => {
  /** An execution context whose waitUntil promises the test can await. */
  function executionContext() {
    const pending: Promise<unknown>[] = [];
    const ctx = {
      waitUntil: (promise: Promise<unknown>) => {
        pending.push(promise);
      },
      passThroughOnException: () => undefined,
      props: {},
    } as unknown as ExecutionContext;
    return { ctx, settled: () => Promise.all(pending.splice(0)) };
  }

  async function call(key: string, ctx: ExecutionContext): Promise<number> {
    return (await app.request('/whoami', { headers: bearer(key) }, env, ctx)).status;
  }

  /** A key of a new org, called once in a request context: the isolate's one inline lookup of it. */
  async function warmCaller() {
    const orgId = uniqueId('org');
    const key = await cp.addKey({ orgId, scopes: ['predict'] });
    const { ctx, settled } = executionContext();
    expect(await call(key, ctx)).toBe(200);
    await settled();
    /** Calls every `every` s up to `until` s, each answered 200, its background refreshes awaited. */
    async function callEvery(every: number, until: number): Promise<void> {
      for (let s = every; s <= until; s += every) {
        at(s);
        expect(await call(key, ctx)).toBe(200);
        await settled();
      }
    }
    return { orgId, key, ctx, settled, callEvery };
  }

  it('never makes a warm isolate’s request wait for the control plane, and still learns a revocation within the bound', async () => {
    const { orgId, key, ctx, settled, callEvery } = await warmCaller();
    const inline = () => cp.count(RESOLVE);

    // Every 5 s for a minute: records go stale in the isolate (10 s) and in KV (20 s), and are refreshed
    // after the responses, never before them.
    await callEvery(5, 60);
    expect(inline()).toBe(1);
    expect(cp.count(`GET /internal/v1/orgs/${orgId}`)).toBe(1);
    expect(cp.count(`${RESOLVE} [background]`)).toBeGreaterThanOrEqual(2);

    await cp.setKeyStatus(key, 'revoked');
    const revokedAt = 61;
    let refusedAt = 0;
    for (let s = revokedAt; s <= revokedAt + 40 && refusedAt === 0; s += 1) {
      at(s);
      if ((await call(key, ctx)) === 401) refusedAt = s;
      await settled();
    }
    // KEY_CACHE_SECONDS + KEY_KV_FRESH_SECONDS = 30 s, as without refresh ahead.
    expect(refusedAt).toBeGreaterThan(0);
    expect(refusedAt - revokedAt).toBeLessThanOrEqual(30);
    expect(inline()).toBe(1);
  });

  it('keeps a caller that calls every 15 s off the control plane: a refresh ahead does not settle for the KV record it already holds', async () => {
    const { orgId, callEvery } = await warmCaller();

    // At 15 s the isolate entry is stale (10 s) and KV's copy is the very record it holds (still fresh
    // there): re-reading it would leave the record expiring at 30 s, and the call at 30 s would wait.
    await callEvery(15, 120);
    expect(cp.count(RESOLVE)).toBe(1);
    expect(cp.count(`GET /internal/v1/orgs/${orgId}`)).toBe(1);
    expect(cp.count(`${RESOLVE} [background]`)).toBeGreaterThanOrEqual(7);
  });
});
