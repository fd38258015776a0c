import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newModel, uploadVersion } from '../../testing/models.js';
import { createTestApp, type Session } from '../../testing/test-app.js';
import { apiKeys } from '../db/schema.js';
import { sha256Hex } from '../lib/secrets.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

describe('API keys', () => {
  let t: TestApp;
  let owner: Session;
  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('owner');
  });
  afterAll(() => t.cleanup());

  it('shows the secret once, with the environment prefix, and stores only its hash', async () => {
    const created = await t.client.call('POST', '/v1/api-keys', {
      token: owner.accessToken,
      body: {
        name: 'ci',
        environment: 'test',
        scopes: ['predict', 'predict:dep_sentiment', 'models:read'],
        rateLimits: [
          { name: 'per-second', limit: 10, periodSeconds: 1 },
          { name: 'per-day', limit: 10000, periodSeconds: 86400 },
        ],
      },
    });
    expect(created.status).toBe(201);
    expect(created.json.secret).toMatch(/^mk_test_[A-Za-z0-9_-]{43}$/);
    const [row] = await t.db.select().from(apiKeys).where(eq(apiKeys.id, created.json.id));
    expect(row?.hash).toBe(sha256Hex(created.json.secret));
    expect(JSON.stringify(row)).not.toContain(created.json.secret);

    const listed = await t.client.call('GET', '/v1/api-keys', { token: owner.accessToken });
    expect(listed.text).not.toContain(created.json.secret);
    expect(listed.text).not.toContain(row?.hash);
    expect(listed.json.items[0]).toMatchObject({
      id: created.json.id,
      status: 'active',
      start: created.json.secret.slice(0, 12),
    });
    const one = await t.client.call('GET', `/v1/api-keys/${created.json.id}`, { token: owner.accessToken });
    expect(one.json).not.toHaveProperty('secret');
  });

  it("refuses a predict scope naming a deployment id the org does not have, another org's exactly as a missing one", async () => {
    const other = await t.client.register('other-org');
    const model = await newModel(t.app, other.accessToken, 'theirs');
    await uploadVersion(t.app, other.accessToken, model, 'net.pt', 'weights');
    const image = 'ghcr.io/acme/torch-server:2.1';
    const allowed = await t.client.call('POST', '/v1/allowed-images', {
      token: other.accessToken,
      body: { image },
    });
    expect(allowed.status, allowed.text).toBe(201);
    const theirs = await t.client.call('POST', '/v1/deployments', {
      token: other.accessToken,
      body: { name: 'theirs', model, version: 1, image, gpuType: 'cpu' },
    });
    expect(theirs.status, theirs.text).toBe(201);
    const missing = `dep_${'0'.repeat(26)}`;
    for (const id of [theirs.json.id as string, missing]) {
      const refused = await t.client.call('POST', '/v1/api-keys', {
        token: owner.accessToken,
        body: { name: 'scoped', scopes: ['predict', `predict:${id}`] },
      });
      expect(refused.status, refused.text).toBe(400);
      expect(refused.json.error.details).toEqual([
        { path: 'scopes.1', message: `no deployment ${id} in this organisation` },
      ]);
    }
    // Their own deployment by id, and a name, which may be of a deployment still to come, are taken.
    const own = await t.client.call('POST', '/v1/api-keys', {
      token: other.accessToken,
      body: { name: 'scoped', scopes: [`predict:${theirs.json.id}`, 'predict:later'] },
    });
    expect(own.status, own.text).toBe(201);
  });

  it('rejects unknown scopes and duplicate limit names', async () => {
    const badScope = await t.client.call('POST', '/v1/api-keys', {
      token: owner.accessToken,
      body: { name: 'bad', scopes: ['predict', 'root'] },
    });
    expect(badScope.status).toBe(400);
    // The refusal names what a scope may be, not zod's bare "Invalid input".
    expect(badScope.json.error.details).toEqual([
      {
        path: 'scopes.1',
        message: expect.stringMatching(
          /^a scope is one of predict, models:read, .*, or predict:<deployment> with a deployment id or name$/,
        ),
      },
    ]);
    const dup = await t.client.call('POST', '/v1/api-keys', {
      token: owner.accessToken,
      body: {
        name: 'dup',
        scopes: ['predict'],
        rateLimits: [
          { name: 'a', limit: 1, periodSeconds: 1 },
          { name: 'a', limit: 2, periodSeconds: 2 },
        ],
      },
    });
    expect(dup.status).toBe(400);
  });

  it('authenticates management calls and records last use', async () => {
    const key = await t.client.createKey(owner, { scopes: ['admin'] });
    const me = await t.client.call('GET', '/v1/auth/me', { token: key.secret });
    expect(me.json).toMatchObject({ type: 'api_key', apiKey: { id: key.id }, org: { id: owner.orgId } });
    const shown = await t.client.call('GET', `/v1/api-keys/${key.id}`, { token: owner.accessToken });
    expect(shown.json.lastUsedAt).not.toBeNull();
  });

  it('rejects a revoked key at once, and the audit log names the key it revoked', async () => {
    const key = await t.client.createKey(owner, { name: 'nightly export' });
    expect((await t.client.call('GET', '/v1/auth/me', { token: key.secret })).status).toBe(200);
    const revoked = await t.client.call('DELETE', `/v1/api-keys/${key.id}`, { token: owner.accessToken });
    expect(revoked.status).toBe(200);
    expect(revoked.json.status).toBe('revoked');
    const after = await t.client.call('GET', '/v1/auth/me', { token: key.secret });
    expect(after.status).toBe(401);
    expect(after.json.error.code).toBe('unauthenticated');
    expect(await t.client.auditNames(owner.accessToken, 'api_key.revoke', key.id)).toEqual([
      'nightly export',
    ]);
  });

  it('rejects an expired key', async () => {
    const key = await t.client.createKey(owner, { expiresAt: new Date(Date.now() + 60_000).toISOString() });
    expect((await t.client.call('GET', '/v1/auth/me', { token: key.secret })).status).toBe(200);
    await t.db
      .update(apiKeys)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(apiKeys.id, key.id));
    expect((await t.client.call('GET', '/v1/auth/me', { token: key.secret })).status).toBe(401);
    const shown = await t.client.call('GET', `/v1/api-keys/${key.id}`, { token: owner.accessToken });
    expect(shown.json.status).toBe('expired');
  });

  it('refuses an expiry in the past', async () => {
    const res = await t.client.call('POST', '/v1/api-keys', {
      token: owner.accessToken,
      body: { name: 'old', scopes: ['predict'], expiresAt: '2001-01-01T00:00:00Z' },
    });
    expect(res.status).toBe(400);
    expect(res.json.error.details[0].path).toBe('expiresAt');
  });

  it('pages through keys with a cursor', async () => {
    const fresh = await t.client.register('pager');
    for (let i = 0; i < 5; i++) await t.client.createKey(fresh, { name: `k${i}` });
    const first = await t.client.call('GET', '/v1/api-keys?limit=2', { token: fresh.accessToken });
    expect(first.json.items).toHaveLength(2);
    const seen = new Set(first.json.items.map((k: { id: string }) => k.id));
    let cursor = first.json.nextCursor;
    while (cursor) {
      const page = await t.client.call('GET', `/v1/api-keys?limit=2&cursor=${cursor}`, {
        token: fresh.accessToken,
      });
      for (const k of page.json.items) seen.add(k.id);
      cursor = page.json.nextCursor;
    }
    expect(seen.size).toBe(5);
  });
});

describe('the edge resolve endpoint', () => {
  let t: TestApp;
  let owner: Session;
  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('owner');
  });
  afterAll(() => t.cleanup());

  const resolve = (hash: string, token = t.edgeServiceToken) =>
    t.client.call('POST', '/internal/v1/api-keys/resolve', { token, body: { hash } });

  it('answers 401 without the edge service credential', async () => {
    const key = await t.client.createKey(owner);
    expect((await resolve(sha256Hex(key.secret), 'wrong-token')).status).toBe(401);
    expect((await resolve(sha256Hex(key.secret), owner.accessToken)).status).toBe(401);
  });

  it('resolves an active key to its org, scopes and limits', async () => {
    const key = await t.client.createKey(owner, {
      scopes: ['predict'],
      rateLimits: [{ name: 'rps', limit: 5, periodSeconds: 1 }],
    });
    const res = await resolve(sha256Hex(key.secret));
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      status: 'active',
      keyId: key.id,
      orgId: owner.orgId,
      environment: 'live',
      scopes: ['predict'],
      rateLimits: [{ name: 'rps', limit: 5, periodSeconds: 1 }],
      expiresAt: null,
    });
  });

  it('answers revoked, unknown and malformed hashes distinctly', async () => {
    const key = await t.client.createKey(owner);
    await t.client.call('DELETE', `/v1/api-keys/${key.id}`, { token: owner.accessToken });
    expect((await resolve(sha256Hex(key.secret))).json).toEqual({ status: 'revoked' });
    expect((await resolve(sha256Hex('mk_live_nothing'))).json).toEqual({ status: 'unknown' });
    expect((await resolve('not-a-hash')).status).toBe(400);
  });
});
