import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type Session } from '../../testing/test-app.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

describe('leaving an organisation', () => {
  let t: TestApp;
  let owner: Session;
  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('owner');
  });
  afterAll(() => t.cleanup());

  const memberIds = async () => {
    const members = await t.client.call('GET', '/v1/org/members', { token: owner.accessToken });
    return members.json.items.map((m: { userId: string }) => m.userId);
  };

  it('lets a viewer someone added leave on their own, ending their access there', async () => {
    const viewer = await t.client.joinOrg(owner, await t.client.register('added'), 'viewer');
    const left = await t.client.call('DELETE', `/v1/org/members/${viewer.userId}`, {
      token: viewer.accessToken,
    });
    expect(left.status, left.text).toBe(204);
    expect(await memberIds()).not.toContain(viewer.userId);
    expect((await t.client.call('GET', '/v1/org', { token: viewer.accessToken })).status).toBe(401);
    const audit = await t.client.call('GET', `/v1/audit-log?action=member.remove&target=${viewer.userId}`, {
      token: owner.accessToken,
    });
    expect(audit.json.items).toEqual([
      expect.objectContaining({
        actor: { type: 'user', id: viewer.userId, name: viewer.email },
        metadata: expect.objectContaining({ email: viewer.email }),
      }),
    ]);
  });

  it('still lets a member remove nobody but themself', async () => {
    const member = await t.client.joinOrg(owner, await t.client.register('member'), 'member');
    const other = await t.client.joinOrg(owner, await t.client.register('other'), 'viewer');
    const refused = await t.client.call('DELETE', `/v1/org/members/${other.userId}`, {
      token: member.accessToken,
    });
    expect(refused.status).toBe(403);
    expect(await memberIds()).toContain(other.userId);
  });

  it('revokes the API keys of an admin who leaves, and refuses to hand them to the one leaving', async () => {
    const admin = await t.client.joinOrg(owner, await t.client.register('admin'), 'admin');
    const key = await t.client.createKey(admin, { scopes: ['models:read'] });
    const transfer = await t.client.call('DELETE', `/v1/org/members/${admin.userId}?keys=transfer`, {
      token: admin.accessToken,
    });
    expect(transfer.status).toBe(403);
    const left = await t.client.call('DELETE', `/v1/org/members/${admin.userId}`, {
      token: admin.accessToken,
    });
    expect(left.status).toBe(204);
    expect((await t.client.call('GET', '/v1/models', { token: key.secret })).status).toBe(401);
  });

  it('does not let an owner leave with their keys still working through keys=transfer', async () => {
    const second = await t.client.joinOrg(owner, await t.client.register('co-owner'), 'owner');
    const key = await t.client.createKey(second, { scopes: ['models:read'] });
    const transfer = await t.client.call('DELETE', `/v1/org/members/${second.userId}?keys=transfer`, {
      token: second.accessToken,
    });
    expect(transfer.status).toBe(403);
    expect(await memberIds()).toContain(second.userId);
    expect((await t.client.call('GET', '/v1/models', { token: key.secret })).status).toBe(200);
  });

  it('never lets the last owner leave', async () => {
    const alone = await t.client.register('alone');
    const left = await t.client.call('DELETE', `/v1/org/members/${alone.userId}`, {
      token: alone.accessToken,
    });
    expect(left.status).toBe(409);
    expect((await t.client.call('GET', '/v1/org', { token: alone.accessToken })).status).toBe(200);
  });

  it('does not let a user leave their only organisation, which would leave them unable to log in', async () => {
    const founder = await t.client.register('founder');
    const heir = await t.client.joinOrg(founder, await t.client.register('heir'), 'owner');
    // The heir leaves their own personal org, keeping only the founder's.
    const personal = (await t.client.call('GET', '/v1/orgs', { token: heir.accessToken })).json.items.find(
      (o: { personal: boolean }) => o.personal,
    );
    const inPersonal = await t.client.call('POST', '/v1/auth/switch-org', {
      token: heir.accessToken,
      body: { orgId: personal.id },
    });
    await t.client.joinOrg(
      { ...heir, accessToken: inPersonal.json.accessToken, orgId: personal.id },
      founder,
      'owner',
    );
    const leftPersonal = await t.client.call('DELETE', `/v1/org/members/${heir.userId}`, {
      token: inPersonal.json.accessToken,
    });
    expect(leftPersonal.status).toBe(204);
    const last = await t.client.call('DELETE', `/v1/org/members/${heir.userId}`, { token: heir.accessToken });
    expect(last.status).toBe(409);
    expect(last.json.error.message).toBe(
      'This is your only organisation: create or join another before leaving it',
    );
    const login = await t.client.call('POST', '/v1/auth/login', {
      body: { email: heir.email, password: 'correct horse battery' },
    });
    expect(login.status).toBe(200);
  });
});
