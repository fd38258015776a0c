import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from '../../testing/test-app.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;
const PASSWORD = 'correct horse battery';

describe('registration and login', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.cleanup());

  it('registers a user who owns a new personal organisation', async () => {
    const res = await t.client.call('POST', '/v1/auth/register', {
      body: { email: 'Grace@Example.com', password: PASSWORD, name: 'Grace' },
    });
    expect(res.status).toBe(201);
    expect(res.json.user.email).toBe('grace@example.com');
    expect(res.json).not.toHaveProperty('user.passwordHash');
    const me = await t.client.call('GET', '/v1/auth/me', { token: res.json.accessToken });
    expect(me.json).toMatchObject({ type: 'user', role: 'owner', org: { id: res.json.org.id } });
    expect(me.json.orgs).toEqual([
      { id: res.json.org.id, name: "Grace's workspace", role: 'owner', personal: true },
    ]);
    // The entry keeps the e-mail, which names the user after they leave the org.
    const audit = await t.client.call('GET', '/v1/audit-log?action=user.register', {
      token: res.json.accessToken,
    });
    expect(audit.json.items.map((e: { metadata: { email?: string } }) => e.metadata.email)).toEqual([
      'grace@example.com',
    ]);
  });

  it('refuses a second account for the same email in any letter case', async () => {
    const res = await t.client.call('POST', '/v1/auth/register', {
      body: { email: 'GRACE@example.COM', password: PASSWORD, name: 'Other' },
    });
    expect(res.status).toBe(409);
    expect(res.json.error.code).toBe('conflict');
  });

  it('answers 409, not 500, to registrations racing for one email, and creates one account', async () => {
    const attempts = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        t.client.call('POST', '/v1/auth/register', {
          body: { email: 'race@example.com', password: PASSWORD, name: `Racer ${i}` },
        }),
      ),
    );
    expect(attempts.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
    for (const r of attempts.filter((a) => a.status === 409))
      expect(r.json.error.message).toBe('An account with this email already exists');
    expect(t.logLines.filter((line) => line.includes('unhandled error'))).toEqual([]);
  });

  it('refuses passwords shorter than 10 characters', async () => {
    const res = await t.client.call('POST', '/v1/auth/register', {
      body: { email: 'short@example.com', password: 'short', name: 'S' },
    });
    expect(res.status).toBe(400);
    expect(res.json.error.details[0].path).toBe('password');
  });

  it('refuses patterns, breached passwords and the e-mail itself, naming the password field', async () => {
    for (const password of [
      'aaaaaaaaaa',
      '1234567890',
      'Password123',
      'ada@example.org',
      'my ada@example.org!',
    ]) {
      const res = await t.client.call('POST', '/v1/auth/register', {
        body: { email: 'ada@example.org', password, name: 'Ada' },
      });
      expect(res.status, password).toBe(400);
      expect(res.json.error.details, password).toEqual([{ path: 'password', message: expect.any(String) }]);
    }
  });

  it('logs in with the right password and answers the same 401 for a wrong password or unknown email', async () => {
    const ok = await t.client.call('POST', '/v1/auth/login', {
      body: { email: 'grace@example.com', password: PASSWORD },
    });
    expect(ok.status).toBe(200);
    expect(ok.json.tokenType).toBe('Bearer');
    const wrong = await t.client.call('POST', '/v1/auth/login', {
      body: { email: 'grace@example.com', password: 'nope' },
    });
    const unknown = await t.client.call('POST', '/v1/auth/login', {
      body: { email: 'nobody@example.com', password: 'nope' },
    });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.json.error.message).toBe(unknown.json.error.message);
  });
});

describe('refresh tokens', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.cleanup());

  const refresh = (refreshToken: string) =>
    t.client.call('POST', '/v1/auth/refresh', { body: { refreshToken } });

  it('rotates: each refresh returns a new pair and the new access token works', async () => {
    const s = await t.client.register('rotating');
    const first = await refresh(s.refreshToken);
    expect(first.status).toBe(200);
    expect(first.json.refreshToken).not.toBe(s.refreshToken);
    expect((await t.client.call('GET', '/v1/auth/me', { token: first.json.accessToken })).status).toBe(200);
    const second = await refresh(first.json.refreshToken);
    expect(second.status).toBe(200);
  });

  it('revokes the whole family when a spent refresh token is presented again', async () => {
    const s = await t.client.register('stolen');
    const legit = await refresh(s.refreshToken);
    expect(legit.status).toBe(200);
    const replay = await refresh(s.refreshToken);
    expect(replay.status).toBe(401);
    expect(replay.json.error.message).toMatch(/already used/);
    // The owner's newer token dies with the family: the thief cannot keep a session alive.
    expect((await refresh(legit.json.refreshToken)).status).toBe(401);
  });

  it('lets only one of two concurrent uses of the same token win', async () => {
    const s = await t.client.register('racer');
    const results = await Promise.all([refresh(s.refreshToken), refresh(s.refreshToken)]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 401]);
  });

  it('ends the login on logout', async () => {
    const s = await t.client.register('leaver');
    expect(
      (await t.client.call('POST', '/v1/auth/logout', { body: { refreshToken: s.refreshToken } })).status,
    ).toBe(204);
    expect((await refresh(s.refreshToken)).status).toBe(401);
  });

  it('refuses to refresh into an org the user was removed from', async () => {
    const owner = await t.client.register('owner');
    const member = await t.client.joinOrg(owner, await t.client.register('member'), 'member');
    await t.client.call('DELETE', `/v1/org/members/${member.userId}`, { token: owner.accessToken });
    expect((await refresh(member.refreshToken)).status).toBe(401);
  });

  it('rejects an unknown refresh token', async () => {
    expect((await refresh('mrt_not-a-real-token')).status).toBe(401);
  });
});

describe('switching organisation', () => {
  it('issues a token naming the chosen org, and 404 for an org the user is not in', async () => {
    const t = await createTestApp();
    try {
      const ada = await t.client.register('ada');
      const created = await t.client.call('POST', '/v1/orgs', {
        token: ada.accessToken,
        body: { name: 'Lab' },
      });
      expect(created.status).toBe(201);
      const switched = await t.client.call('POST', '/v1/auth/switch-org', {
        token: ada.accessToken,
        body: { orgId: created.json.id },
      });
      expect(switched.status).toBe(200);
      const me = await t.client.call('GET', '/v1/auth/me', { token: switched.json.accessToken });
      expect(me.json.org).toEqual({ id: created.json.id, name: 'Lab' });
      expect(me.json.orgs).toHaveLength(2);
      expect(await t.client.auditNames(switched.json.accessToken, 'org.create', created.json.id)).toEqual([
        'Lab',
      ]);

      const stranger = await t.client.register('stranger');
      const denied = await t.client.call('POST', '/v1/auth/switch-org', {
        token: stranger.accessToken,
        body: { orgId: created.json.id },
      });
      expect(denied.status).toBe(404);
    } finally {
      t.cleanup();
    }
  });
});
