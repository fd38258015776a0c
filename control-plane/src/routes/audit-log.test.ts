import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type Session } from '../../testing/test-app.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

describe('audit log', () => {
  let t: TestApp;
  let owner: Session;
  beforeAll(async () => {
    t = await createTestApp({ trustProxy: true });
    owner = await t.client.register('owner');
  });
  afterAll(() => t.cleanup());

  it('records each mutation with actor, target, request id, client IP and time', async () => {
    const res = await t.client.call('POST', '/v1/api-keys', {
      token: owner.accessToken,
      body: { name: 'audited', scopes: ['predict'] },
      headers: { 'x-request-id': 'req-audit-1', 'x-forwarded-for': '198.51.100.4' },
    });
    expect(res.status).toBe(201);
    const log = await t.client.call('GET', '/v1/audit-log?action=api_key.create', {
      token: owner.accessToken,
    });
    expect(log.json.items[0]).toMatchObject({
      actor: { type: 'user', id: owner.userId },
      action: 'api_key.create',
      target: { type: 'api_key', id: res.json.id },
      requestId: 'req-audit-1',
      clientIp: '198.51.100.4',
      metadata: { name: 'audited', scopes: ['predict'] },
    });
    expect(Date.now() - Date.parse(log.json.items[0].createdAt)).toBeLessThan(60_000);
  });

  it('names the API key as actor when a key made the change', async () => {
    const key = await t.client.createKey(owner, { scopes: ['admin'] });
    const made = await t.client.call('POST', '/v1/api-keys', {
      token: key.secret,
      body: { name: 'by key', scopes: ['predict'] },
    });
    expect(made.status).toBe(201);
    const log = await t.client.call('GET', '/v1/audit-log?limit=1', { token: owner.accessToken });
    expect(log.json.items[0]).toMatchObject({
      actor: { type: 'api_key', id: key.id },
      target: { id: made.json.id },
    });
  });

  it('covers registration, org changes, membership changes and revocation', async () => {
    const member = await t.client.joinOrg(owner, await t.client.register('m'), 'viewer');
    await t.client.call('PATCH', `/v1/org/members/${member.userId}`, {
      token: owner.accessToken,
      body: { role: 'member' },
    });
    await t.client.call('PATCH', '/v1/org', { token: owner.accessToken, body: { name: 'Renamed' } });
    const key = await t.client.createKey(owner);
    await t.client.call('DELETE', `/v1/api-keys/${key.id}`, { token: owner.accessToken });
    await t.client.call('DELETE', `/v1/org/members/${member.userId}`, { token: owner.accessToken });
    const log = await t.client.call('GET', '/v1/audit-log?limit=200', { token: owner.accessToken });
    const actions = log.json.items.map((e: { action: string }) => e.action);
    for (const action of [
      'user.register',
      'invitation.create',
      'invitation.accept',
      'member.role_change',
      'org.update',
      'api_key.create',
      'api_key.revoke',
      'member.remove',
    ]) {
      expect(actions).toContain(action);
    }
    // Each membership entry keeps the member's e-mail: it names them after they have left. Their joining is
    // the invitation's entries (the invitation is the target), which keep it too.
    const memberEntries = log.json.items.filter(
      (e: { action: string; target: { id: string }; metadata: { email?: string; userId?: string } }) =>
        (e.action.startsWith('member.') && e.target.id === member.userId) ||
        (e.action.startsWith('invitation.') && e.metadata.email === member.email),
    );
    expect(
      memberEntries.map((e: { action: string; metadata: { email?: string } }) => [
        e.action,
        e.metadata.email,
      ]),
    ).toEqual([
      ['member.remove', member.email],
      ['member.role_change', member.email],
      ['invitation.accept', member.email],
      ['invitation.create', member.email],
    ]);
  });

  it('pages newest first without gaps or repeats', async () => {
    const all = await t.client.call('GET', '/v1/audit-log?limit=200', { token: owner.accessToken });
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { json: { items: { id: string }[]; nextCursor: string | null } } = await t.client.call(
        'GET',
        `/v1/audit-log?limit=3${cursor ? `&cursor=${cursor}` : ''}`,
        { token: owner.accessToken },
      );
      ids.push(...page.json.items.map((e) => e.id));
      cursor = page.json.nextCursor;
    } while (cursor);
    expect(ids).toEqual(all.json.items.map((e: { id: string }) => e.id));
    expect([...ids].sort().reverse()).toEqual(ids);
  });

  it('filters by actor, target and time, and pages within the filter', async () => {
    type Page = { status: number; json: { items: AuditRow[]; nextCursor: string | null } };
    type AuditRow = { id: string; actor: { id: string }; target: { id: string }; createdAt: string };
    const get = (query: string): Promise<Page> =>
      t.client.call('GET', `/v1/audit-log?${query}`, { token: owner.accessToken });
    const before = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 5));
    const key = await t.client.createKey(owner, { scopes: ['admin'] });
    const made: string[] = [];
    for (const name of ['f1', 'f2', 'f3']) {
      const res = await t.client.call('POST', '/v1/api-keys', {
        token: key.secret,
        body: { name, scopes: ['predict'] },
      });
      made.push(res.json.id);
    }
    const byKey = await get(`actor=${key.id}&limit=200`);
    expect(byKey.json.items.map((e) => e.target.id)).toEqual([...made].reverse());

    const first = await get(`actor=${key.id}&limit=2`);
    expect(first.json.items.map((e) => e.target.id)).toEqual([made[2], made[1]]);
    const rest = await get(`actor=${key.id}&limit=2&cursor=${first.json.nextCursor}`);
    expect(rest.json.items.map((e) => e.target.id)).toEqual([made[0]]);
    expect(rest.json.nextCursor).toBeNull();

    await t.client.call('DELETE', `/v1/api-keys/${made[1]}`, { token: owner.accessToken });
    const onOne = await get(`target=${made[1]}`);
    expect(onOne.json.items.map((e: AuditRow & { action?: string }) => e.action)).toEqual([
      'api_key.revoke',
      'api_key.create',
    ]);

    // Time bounds: everything since `before` is this test's; nothing of it before.
    const since = await get(`since=${encodeURIComponent(before)}&limit=200`);
    expect(since.json.items).toHaveLength(1 + made.length + 1);
    expect(since.json.items.every((e) => e.createdAt >= before)).toBe(true);
    const until = await get(`until=${encodeURIComponent(before)}&limit=200`);
    expect(until.json.items.length).toBeGreaterThan(0);
    expect(until.json.items.some((e) => made.includes(e.target.id))).toBe(false);
    expect(until.json.items.every((e) => e.createdAt < before)).toBe(true);
    const other = await get('actor=usr_nobody');
    expect(other.json.items).toEqual([]);
  });

  it('names each actor, a member who has since left and a revoked key included', async () => {
    const admin = await t.client.joinOrg(owner, await t.client.register('departed'), 'admin');
    const key = await t.client.createKey(admin, { name: 'deploy-bot', scopes: ['admin'] });
    const byKey = await t.client.call('PATCH', '/v1/org', {
      token: key.secret,
      body: { name: 'Renamed by bot' },
    });
    expect(byKey.status).toBe(200);
    const removed = await t.client.call('DELETE', `/v1/org/members/${admin.userId}`, {
      token: owner.accessToken,
    });
    expect(removed.status).toBe(204);
    const log = await t.client.call('GET', '/v1/audit-log?limit=200', { token: owner.accessToken });
    const byActor = (id: string) =>
      log.json.items.filter((e: { actor: { id: string } }) => e.actor.id === id);
    expect(byActor(admin.userId)[0].actor).toEqual({ type: 'user', id: admin.userId, name: admin.email });
    expect(byActor(key.id)[0].actor).toEqual({ type: 'api_key', id: key.id, name: 'deploy-bot' });
  });

  it('refuses a malformed time or a range that ends before it starts', async () => {
    const get = (query: string) =>
      t.client.call('GET', `/v1/audit-log?${query}`, { token: owner.accessToken });
    const notTime = await get('since=yesterday');
    expect(notTime.status).toBe(400);
    expect(JSON.stringify(notTime.json)).toMatch(/since/);
    const backwards = await get('since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z');
    expect(backwards.status).toBe(400);
    expect(JSON.stringify(backwards.json)).toMatch(/since. must be before .until/);
    expect((await get(`target=${'x'.repeat(513)}`)).status).toBe(400);
  });

  it('refuses an action it never records, naming the ones it does; a prefix is no action', async () => {
    const get = (query: string) =>
      t.client.call('GET', `/v1/audit-log?${query}`, { token: owner.accessToken });
    for (const action of ['bogus', 'deployment', 'deployment.']) {
      const res = await get(`action=${action}`);
      expect(res.status, action).toBe(400);
      expect(res.json.error.details).toEqual([
        {
          path: 'action',
          message: expect.stringMatching(/^not an action the audit log records; one of .*deployment\.update/),
        },
      ]);
    }
    expect((await get('action=deployment.update')).status).toBe(200);
  });

  it('is for owners and admins only', async () => {
    const admin = await t.client.joinOrg(owner, await t.client.register('a'), 'admin');
    const member = await t.client.joinOrg(owner, await t.client.register('b'), 'member');
    const viewer = await t.client.joinOrg(owner, await t.client.register('c'), 'viewer');
    expect((await t.client.call('GET', '/v1/audit-log', { token: admin.accessToken })).status).toBe(200);
    expect((await t.client.call('GET', '/v1/audit-log', { token: member.accessToken })).status).toBe(403);
    expect((await t.client.call('GET', '/v1/audit-log', { token: viewer.accessToken })).status).toBe(403);
  });
});
