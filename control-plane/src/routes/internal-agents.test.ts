import { isId } from '@meridian/protocol';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueBootstrapToken, sampleRegistration } from '../../testing/agents.js';
import { createTestApp } from '../../testing/test-app.js';
import { agents, bootstrapTokens } from '../db/schema.js';
import { agentDataPlaneKey } from '../lib/data-plane-keys.js';
import { sha256Hex } from '../lib/secrets.js';
import { issueBootstrapToken as issueDirectly } from '../services/agents/bootstrap-tokens.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

const ISSUE = '/internal/v1/agents/bootstrap-tokens';

describe('bootstrap tokens and agent registration', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.cleanup());

  const register = (bootstrapToken: string) =>
    t.client.call('POST', '/agent/v1/register', { body: sampleRegistration(bootstrapToken) });

  it('issues a one-time token to the operator and keeps only its hash', async () => {
    const res = await t.client.call('POST', ISSUE, { token: t.operatorToken, body: { ttlSeconds: 600 } });
    expect(res.status).toBe(201);
    expect(res.json.token).toMatch(/^mbt_/);
    expect(isId('bootstrapToken', res.json.id)).toBe(true);
    const expiresIn = Date.parse(res.json.expiresAt) - Date.now();
    expect(expiresIn).toBeGreaterThan(590_000);
    expect(expiresIn).toBeLessThanOrEqual(600_000);
    const [row] = await t.db.select().from(bootstrapTokens).where(eq(bootstrapTokens.id, res.json.id));
    expect(row?.tokenHash).toBe(sha256Hex(res.json.token));
    expect(JSON.stringify(row)).not.toContain(res.json.token);
  });

  it('refuses the operator route without or with a wrong operator token, or with another credential', async () => {
    const owner = await t.client.register('owner');
    for (const token of [undefined, 'wrong', `${t.operatorToken}x`, t.edgeServiceToken, owner.accessToken]) {
      const res = await t.client.call('POST', ISSUE, {
        ...(token ? { token } : {}),
        body: { ttlSeconds: 600 },
      });
      expect(res.status).toBe(401);
      expect(res.json.error).toEqual(expect.objectContaining({ code: 'unauthenticated' }));
    }
  });

  it('answers 400 to a ttl out of bounds', async () => {
    for (const ttlSeconds of [0, 59, 8 * 24 * 3600, 1.5, '60']) {
      const res = await t.client.call('POST', ISSUE, { token: t.operatorToken, body: { ttlSeconds } });
      expect(res.status, String(ttlSeconds)).toBe(400);
      expect(res.json.error.code).toBe('validation_failed');
    }
  });

  it('registers an agent once per token and refuses the second use with 401', async () => {
    const token = await issueBootstrapToken(t);
    const first = await register(token);
    expect(first.status).toBe(201);
    expect(isId('agent', first.json.agentId)).toBe(true);
    expect(first.json.credential).toMatch(/^mac_/);
    expect(first.json.heartbeatIntervalSeconds).toBe(15);
    // Its own data-plane key, derived from the platform key, never the platform key itself.
    expect(first.json.dataPlaneKey).toEqual(agentDataPlaneKey(t.dataPlaneSigningKey, first.json.agentId, 1));
    expect(first.json.dataPlaneKey.key).not.toContain(t.dataPlaneSigningKey);
    expect(JSON.stringify(first.json)).not.toContain(t.dataPlaneSigningKey);

    const [agent] = await t.db.select().from(agents).where(eq(agents.id, first.json.agentId));
    expect(agent).toMatchObject({
      hostname: 'gpu-host-1',
      dataPlaneUrl: 'http://10.0.0.5:9090',
      status: 'online',
      credentialHash: sha256Hex(first.json.credential),
    });
    expect(agent?.inventory.gpus[0]?.name).toBe('Tesla T4');
    const [spent] = await t.db
      .select()
      .from(bootstrapTokens)
      .where(eq(bootstrapTokens.tokenHash, sha256Hex(token)));
    expect(spent?.usedByAgent).toBe(first.json.agentId);
    expect(spent?.usedAt).toBeInstanceOf(Date);

    const second = await register(token);
    expect(second.status).toBe(401);
    expect(second.json.error.code).toBe('unauthenticated');
    expect(await t.db.select().from(agents)).toHaveLength(1);
  });

  it('lets only one of two concurrent registrations with one token through', async () => {
    const before = (await t.db.select().from(agents)).length;
    const token = await issueBootstrapToken(t);
    const results = await Promise.all([register(token), register(token), register(token)]);
    expect(results.map((r) => r.status).sort()).toEqual([201, 401, 401]);
    expect(await t.db.select().from(agents)).toHaveLength(before + 1);
  });

  it('refuses an expired token and an unknown one with the same 401', async () => {
    const anHourAgo = new Date(Date.now() - 3600_000);
    const expired = await issueDirectly(t.db, { ttlSeconds: 60, createdBy: 'test' }, anHourAgo);
    const late = await register(expired.token);
    const unknown = await register('mbt_never-issued');
    expect(late.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(late.json.error.message).toBe(unknown.json.error.message);
    const [row] = await t.db.select().from(bootstrapTokens).where(eq(bootstrapTokens.id, expired.id));
    expect(row?.usedAt).toBeNull();
  });

  it('answers 400 to a malformed registration and spends no token', async () => {
    const token = await issueBootstrapToken(t);
    const bad = [
      { ...sampleRegistration(token), dataPlaneUrl: 'ftp://host' },
      { ...sampleRegistration(token), runtimes: ['kubernetes'] },
      {
        ...sampleRegistration(token),
        inventory: { ...sampleRegistration(token).inventory, gpus: [{ index: 0 }] },
      },
      { ...sampleRegistration(token), hostname: '' },
    ];
    for (const body of bad) {
      const res = await t.client.call('POST', '/agent/v1/register', { body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error).toEqual(
        expect.objectContaining({ code: 'validation_failed', details: expect.any(Array) }),
      );
    }
    expect((await register(token)).status).toBe(201);
  });
});
