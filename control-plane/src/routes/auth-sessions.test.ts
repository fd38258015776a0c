import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type Session, testClient } from '../../testing/test-app.js';
import { setOrgStanding } from '../services/orgs/standing.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;
const PASSWORD = 'correct horse battery';

const sidOf = (token: string) => String(decodeJwt(token).sid);

describe('sessions that end', () => {
  let t: TestApp;
  let owner: Session;
  const me = (token: string) => t.client.call('GET', '/v1/auth/me', { token });
  const sessionAtEdge = (sid: string) =>
    t.client.call('GET', `/internal/v1/sessions/${sid}`, { token: t.edgeServiceToken });

  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('owner');
  });
  afterAll(() => t.cleanup());

  it('refuses the access token at once after logout, and tells the edge the session is revoked', async () => {
    const s = await t.client.register('leaver');
    expect((await me(s.accessToken)).status).toBe(200);
    expect((await sessionAtEdge(sidOf(s.accessToken))).json).toEqual({
      status: 'active',
      sessionId: sidOf(s.accessToken),
      userId: s.userId,
      orgId: s.orgId,
      // The login's end: its refresh token's expiry (a notebook's browser session lives until then).
      expiresAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
    });
    const out = await t.client.call('POST', '/v1/auth/logout', { body: { refreshToken: s.refreshToken } });
    expect(out.status).toBe(204);
    const after = await me(s.accessToken);
    expect(after.status).toBe(401);
    expect(after.json.error.code).toBe('unauthenticated');
    expect((await sessionAtEdge(sidOf(s.accessToken))).json).toEqual({ status: 'revoked' });
  });

  it('refuses every access token of a login whose refresh token was used twice', async () => {
    const s = await t.client.register('copied');
    const rotated = await t.client.call('POST', '/v1/auth/refresh', {
      body: { refreshToken: s.refreshToken },
    });
    expect((await me(rotated.json.accessToken)).status).toBe(200);
    const replay = await t.client.call('POST', '/v1/auth/refresh', {
      body: { refreshToken: s.refreshToken },
    });
    expect(replay.status).toBe(401);
    expect((await me(s.accessToken)).status).toBe(401);
    expect((await me(rotated.json.accessToken)).status).toBe(401);
  });

  it('ends every session of the user on a password change and answers a working pair', async () => {
    const s = await t.client.register('changer');
    const other = await t.client.call('POST', '/v1/auth/login', {
      body: { email: s.email, password: PASSWORD },
    });
    const wrong = await t.client.call('POST', '/v1/auth/password', {
      token: s.accessToken,
      body: { currentPassword: 'not my password', newPassword: 'violet-harbour-73-kestrel' },
    });
    expect(wrong.status).toBe(403);
    const weak = await t.client.call('POST', '/v1/auth/password', {
      token: s.accessToken,
      body: { currentPassword: PASSWORD, newPassword: '1234567890' },
    });
    expect(weak.status).toBe(400);
    expect(weak.json.error.details[0].path).toBe('newPassword');
    const changed = await t.client.call('POST', '/v1/auth/password', {
      token: s.accessToken,
      body: { currentPassword: PASSWORD, newPassword: 'violet-harbour-73-kestrel' },
    });
    expect(changed.status).toBe(200);
    expect((await me(s.accessToken)).status).toBe(401);
    expect((await me(other.json.accessToken)).status).toBe(401);
    expect(
      (await t.client.call('POST', '/v1/auth/refresh', { body: { refreshToken: other.json.refreshToken } }))
        .status,
    ).toBe(401);
    expect((await me(changed.json.accessToken)).status).toBe(200);
    const login = (password: string) =>
      t.client.call('POST', '/v1/auth/login', { body: { email: s.email, password } });
    expect((await login(PASSWORD)).status).toBe(401);
    expect((await login('violet-harbour-73-kestrel')).status).toBe(200);
    // The entry keeps the e-mail, which names the user after they leave the org.
    const audit = await t.client.call('GET', '/v1/audit-log?action=user.password_change', {
      token: changed.json.accessToken,
    });
    expect(audit.json.items.map((e: { metadata: { email?: string } }) => e.metadata.email)).toEqual([
      s.email,
    ]);
  });

  it('ends a removed member’s sessions in the org and revokes the keys they made, keys of keys included', async () => {
    const member = await t.client.joinOrg(owner, await t.client.register('removed'), 'admin');
    const key = await t.client.createKey(member, { name: 'deploy bot', scopes: ['admin'] });
    const child = await t.client.call('POST', '/v1/api-keys', {
      token: key.secret,
      body: { name: 'made by a key', scopes: ['models:read'] },
    });
    expect(child.status).toBe(201);
    const removed = await t.client.call('DELETE', `/v1/org/members/${member.userId}`, {
      token: owner.accessToken,
    });
    expect(removed.status).toBe(204);
    expect((await me(member.accessToken)).status).toBe(401);
    expect((await sessionAtEdge(sidOf(member.accessToken))).json).toEqual({ status: 'revoked' });
    expect((await me(key.secret)).status).toBe(401);
    expect((await me(child.json.secret)).status).toBe(401);
    const audit = await t.client.call('GET', '/v1/audit-log?limit=10', { token: owner.accessToken });
    const revocations = audit.json.items.filter(
      (e: { action: string; metadata: { reason?: string } }) =>
        e.action === 'api_key.revoke' && e.metadata?.reason === 'member.remove',
    );
    expect(revocations.map((e: { target: { id: string } }) => e.target.id).sort()).toEqual(
      [key.id, child.json.id].sort(),
    );
    // Each revocation names the key it revoked.
    expect(revocations.map((e: { metadata: { name?: string } }) => e.metadata.name).sort()).toEqual([
      'deploy bot',
      'made by a key',
    ]);
  });

  it('hands a removed member’s keys to the owner who chooses so, audited, and refuses that choice to admins', async () => {
    const admin = await t.client.joinOrg(owner, await t.client.register('adm'), 'admin');
    const member = await t.client.joinOrg(owner, await t.client.register('kept'), 'admin');
    const key = await t.client.createKey(member, { name: 'kept key', scopes: ['models:read'] });
    const byAdmin = await t.client.call('DELETE', `/v1/org/members/${member.userId}?keys=transfer`, {
      token: admin.accessToken,
    });
    expect(byAdmin.status).toBe(403);
    const byOwner = await t.client.call('DELETE', `/v1/org/members/${member.userId}?keys=transfer`, {
      token: owner.accessToken,
    });
    expect(byOwner.status).toBe(204);
    expect((await me(member.accessToken)).status).toBe(401);
    expect((await me(key.secret)).status).toBe(200);
    const listed = await t.client.call('GET', `/v1/api-keys/${key.id}`, { token: owner.accessToken });
    expect(listed.json.createdBy).toEqual({ type: 'user', id: owner.userId });
    const audit = await t.client.call('GET', '/v1/audit-log?limit=5', { token: owner.accessToken });
    expect(audit.json.items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          action: 'api_key.transfer',
          target: { type: 'api_key', id: key.id },
          metadata: { name: 'kept key', from: member.userId, to: owner.userId },
        }),
      ]),
    );
  });

  it('refuses a logged-out session on another instance within the 2 s bound', async () => {
    const other = testClient(t.anotherInstance());
    const s = await t.client.register('elsewhere');
    expect((await other.call('GET', '/v1/auth/me', { token: s.accessToken })).status).toBe(200);
    await t.client.call('POST', '/v1/auth/logout', { body: { refreshToken: s.refreshToken } });
    const loggedOutAt = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - loggedOutAt < 5_000) {
      status = (await other.call('GET', '/v1/auth/me', { token: s.accessToken })).status;
      if (status === 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(401);
    expect(Date.now() - loggedOutAt).toBeLessThanOrEqual(2_300);
  });

  it('answers unknown for a session id it never issued, and only to the edge', async () => {
    expect((await sessionAtEdge('rtf_00000000000000000000000000')).json).toEqual({ status: 'unknown' });
    const anon = await t.client.call('GET', `/internal/v1/sessions/${sidOf(owner.accessToken)}`, {
      token: owner.accessToken,
    });
    expect(anon.status).toBe(401);
  });
});

describe('API keys within their maker’s role', () => {
  let t: TestApp;
  let owner: Session;
  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('owner');
  });
  afterAll(() => t.cleanup());

  const changePlan = (token: string) =>
    t.client.call('PUT', '/v1/billing/plan', { token, body: { plan: 'pro' } });

  it('refuses a plan change to an admin’s `admin` key as to the admin (403), and allows an owner’s', async () => {
    await setOrgStanding(t.db, owner.orgId, { plan: 'free' });
    const admin = await t.client.joinOrg(owner, await t.client.register('admin'), 'admin');
    expect((await changePlan(admin.accessToken)).status).toBe(403);
    const adminKey = await t.client.createKey(admin, { scopes: ['admin'] });
    expect(adminKey).toMatchObject({});
    const refused = await changePlan(adminKey.secret);
    expect(refused.status).toBe(403);
    expect(refused.json.error.code).toBe('forbidden');
    // Nor can the admin's key mint a key with more power than the admin has.
    const minted = await t.client.call('POST', '/v1/api-keys', {
      token: adminKey.secret,
      body: { name: 'escalate', scopes: ['admin'] },
    });
    expect(minted.json.roleCap).toBe('admin');
    expect((await changePlan(minted.json.secret)).status).toBe(403);
    const ownerKey = await t.client.createKey(owner, { scopes: ['admin'] });
    expect((await changePlan(ownerKey.secret)).status).toBe(200);
  });

  it('lowers the keys of a demoted member with them', async () => {
    const admin = await t.client.joinOrg(owner, await t.client.register('demoted'), 'admin');
    const key = await t.client.createKey(admin, { name: 'admin script', scopes: ['admin'] });
    expect((await t.client.call('GET', '/v1/org/members', { token: key.secret })).status).toBe(200);
    expect((await t.client.call('GET', '/v1/audit-log', { token: key.secret })).status).toBe(200);
    const demoted = await t.client.call('PATCH', `/v1/org/members/${admin.userId}`, {
      token: owner.accessToken,
      body: { role: 'viewer' },
    });
    expect(demoted.status).toBe(200);
    expect((await t.client.call('GET', '/v1/audit-log', { token: key.secret })).status).toBe(403);
    const listed = await t.client.call('GET', `/v1/api-keys/${key.id}`, { token: owner.accessToken });
    expect(listed.json.roleCap).toBe('viewer');
    expect(await t.client.auditNames(owner.accessToken, 'api_key.cap', key.id)).toEqual(['admin script']);
  });
});
