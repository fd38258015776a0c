import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type Session, testClient } from '../../testing/test-app.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

describe('identity cache', () => {
  let t: TestApp;
  let owner: Session;
  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('owner');
  });
  afterAll(() => t.cleanup());

  it('sees role changes and org renames made through the same instance at once', async () => {
    const member = await t.client.joinOrg(owner, await t.client.register('m'), 'viewer');
    expect((await t.client.call('GET', '/v1/auth/me', { token: member.accessToken })).json.role).toBe(
      'viewer',
    );
    await t.client.call('PATCH', `/v1/org/members/${member.userId}`, {
      token: owner.accessToken,
      body: { role: 'admin' },
    });
    expect((await t.client.call('GET', '/v1/auth/me', { token: member.accessToken })).json.role).toBe(
      'admin',
    );
    await t.client.call('PATCH', '/v1/org', { token: owner.accessToken, body: { name: 'Renamed Lab' } });
    expect((await t.client.call('GET', '/v1/auth/me', { token: member.accessToken })).json.org.name).toBe(
      'Renamed Lab',
    );
    const created = await t.client.call('POST', '/v1/orgs', {
      token: member.accessToken,
      body: { name: 'Side' },
    });
    const me = await t.client.call('GET', '/v1/auth/me', { token: member.accessToken });
    expect(me.json.orgs.map((o: { id: string }) => o.id)).toContain(created.json.id);
  });

  it('rejects a removed member on another instance within the 2 s bound', async () => {
    // A second control-plane instance over the same database, as in a multi-instance deployment.
    const other = t.anotherInstance({ trustProxy: false });
    const otherClient = testClient(other);
    const member = await t.client.joinOrg(owner, await t.client.register('leaving'), 'member');
    expect((await otherClient.call('GET', '/v1/auth/me', { token: member.accessToken })).status).toBe(200);

    await t.client.call('DELETE', `/v1/org/members/${member.userId}`, { token: owner.accessToken });
    expect((await t.client.call('GET', '/v1/auth/me', { token: member.accessToken })).status).toBe(401);

    const removedAt = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - removedAt < 5_000) {
      status = (await otherClient.call('GET', '/v1/auth/me', { token: member.accessToken })).status;
      if (status === 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(401);
    expect(Date.now() - removedAt).toBeLessThanOrEqual(2_300);
  });
});
