import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type Session, testClient } from '../../testing/test-app.js';
import { apiKeys, invitations } from '../db/schema.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

describe('organisation invitations', () => {
  let t: TestApp;
  let owner: Session;
  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('owner');
  });
  afterAll(() => t.cleanup());

  const call = (...args: Parameters<TestApp['client']['call']>) => t.client.call(...args);
  const memberEmails = async (session: Session) => {
    const res = await call('GET', '/v1/org/members', { token: session.accessToken });
    return res.json.items.map((m: { email: string }) => m.email);
  };
  const orgIds = async (session: Session) =>
    (await call('GET', '/v1/orgs', { token: session.accessToken })).json.items.map(
      (o: { id: string }) => o.id,
    );
  const revoke = (session: Session, id: string) =>
    call('DELETE', `/v1/org/invitations/${id}`, { token: session.accessToken });
  /** The invitee's answer (`preview`, `accept` or `decline`) with the token the link carried. */
  const answer = (session: Session, verb: 'preview' | 'accept' | 'decline', token: string | undefined) =>
    call('POST', `/v1/invitations/${verb}`, { token: session.accessToken, body: { token } });

  it('adds nobody until they accept; the invitee sees it by its token, accepts, and joins with the role', async () => {
    const ada = await t.client.register('ada');
    const invited = await call('POST', '/v1/org/invitations', {
      token: owner.accessToken,
      body: { email: ada.email.toUpperCase(), role: 'member' },
    });
    expect(invited.status, invited.text).toBe(201);
    // No SMTP server here: the answer says so and carries the link, once.
    expect(invited.json).toMatchObject({
      invitation: { email: ada.email, role: 'member', invitedBy: owner.email, org: { id: owner.orgId } },
      mailSent: false,
      mailError: expect.stringContaining('no SMTP server'),
      acceptUrl: `http://127.0.0.1:8080/invitations?token=${invited.json.token}`,
    });
    const id = invited.json.invitation.id;
    expect(await memberEmails(owner)).not.toContain(ada.email);
    expect(await orgIds(ada)).not.toContain(owner.orgId);
    const pending = await call('GET', '/v1/org/invitations', { token: owner.accessToken });
    expect(pending.json.items.map((i: { id: string }) => i.id)).toContain(id);
    expect(JSON.stringify(pending.json)).not.toContain(invited.json.token);

    const preview = await answer(ada, 'preview', invited.json.token);
    expect(preview.status, preview.text).toBe(200);
    expect(preview.json).toEqual({
      id,
      email: ada.email,
      role: 'member',
      org: { id: owner.orgId, name: expect.any(String) },
      invitedBy: owner.email,
      createdAt: expect.any(String),
      expiresAt: invited.json.invitation.expiresAt,
    });
    expect(await memberEmails(owner)).not.toContain(ada.email);
    const accepted = await answer(ada, 'accept', invited.json.token);
    expect(accepted.status, accepted.text).toBe(200);
    expect(accepted.json).toMatchObject({ org: { id: owner.orgId }, role: 'member' });
    expect(await memberEmails(owner)).toContain(ada.email);
    expect(await orgIds(ada)).toContain(owner.orgId);
    const again = await answer(ada, 'accept', invited.json.token);
    expect(again.status).toBe(409);
    expect(again.json.error.message).toBe('You have accepted this invitation already');
  });

  it('invites an address with no account yet, which accepts with the token after registering', async () => {
    const email = `later-${Date.now()}@example.com`;
    const invited = await t.client.invite(owner, email, 'viewer');
    const res = await call('POST', '/v1/auth/register', {
      body: { email, password: 'correct horse battery', name: 'Later' },
    });
    const later = res.json.accessToken as string;
    const accepted = await call('POST', '/v1/invitations/accept', {
      token: later,
      body: { token: invited.token },
    });
    expect(accepted.status, accepted.text).toBe(200);
    expect(accepted.json.role).toBe('viewer');
    expect(await memberEmails(owner)).toContain(email);
  });

  it('shows and answers an invitation only with its token: registering the invited address is not enough', async () => {
    // Addresses are not verified at registration: anyone can register victim@corp.example. Without the mailed
    // token such an account must learn nothing of the invitation and must not join.
    const corp = await t.client.register('corp-owner');
    const email = `victim-${Date.now()}@corp.example`;
    const invited = await t.client.invite(corp, email, 'admin');
    const id = invited.invitation.id;
    const res = await call('POST', '/v1/auth/register', {
      body: { email, password: 'correct horse battery', name: 'Not the victim' },
    });
    const squatter: Session = {
      accessToken: res.json.accessToken,
      refreshToken: res.json.refreshToken,
      userId: res.json.user.id,
      orgId: res.json.org.id,
      email,
    };
    const tries = [
      call('GET', '/v1/invitations', { token: squatter.accessToken }),
      call('POST', `/v1/invitations/${id}/accept`, { token: squatter.accessToken }),
      call('POST', `/v1/invitations/${id}/decline`, { token: squatter.accessToken }),
      call('POST', '/v1/invitations/accept', { token: squatter.accessToken, body: { id } }),
      answer(squatter, 'preview', id),
      answer(squatter, 'accept', id),
    ];
    for (const attempt of await Promise.all(tries)) {
      expect([400, 404], attempt.text).toContain(attempt.status);
      expect(attempt.text).not.toContain(id);
      expect(attempt.text).not.toContain(corp.email);
    }
    expect(await memberEmails(corp)).not.toContain(email);
    expect(await orgIds(squatter)).not.toContain(corp.orgId);
    // The invitation is untouched: whoever holds the link (the mailbox) still joins with it.
    const joined = await answer(squatter, 'accept', invited.token);
    expect(joined.status, joined.text).toBe(200);
    expect(joined.json).toMatchObject({ org: { id: corp.orgId }, role: 'admin' });
  });

  it('answers 409 naming the person when they are a member already', async () => {
    const bo = await t.client.joinOrg(owner, await t.client.register('bo'), 'viewer');
    const res = await call('POST', '/v1/org/invitations', {
      token: owner.accessToken,
      body: { email: bo.email, role: 'admin' },
    });
    expect(res.status).toBe(409);
    expect(res.json.error.message).toBe(`bo (${bo.email}) is already a member of this organisation`);
  });

  it('lets the invitee decline: nobody joins, the org reads it in its audit log', async () => {
    const cy = await t.client.register('cy');
    const { invitation, token } = await t.client.invite(owner, cy.email, 'member');
    const declined = await answer(cy, 'decline', token);
    expect(declined.status, declined.text).toBe(204);
    expect(await memberEmails(owner)).not.toContain(cy.email);
    const accept = await answer(cy, 'accept', token);
    expect(accept.status).toBe(409);
    expect(accept.json.error.message).toMatch(/declined/);
    const audit = await call('GET', `/v1/audit-log?target=${invitation.id}`, { token: owner.accessToken });
    expect(
      audit.json.items.map((e: { action: string; actor: { name: string }; metadata: { email: string } }) => [
        e.action,
        e.actor.name,
        e.metadata.email,
      ]),
    ).toEqual([
      ['invitation.decline', cy.email, cy.email],
      ['invitation.create', owner.email, cy.email],
    ]);
  });

  it('replaces a pending invitation to the same address: the old token stops working', async () => {
    const di = await t.client.register('di');
    const first = await t.client.invite(owner, di.email, 'viewer');
    const second = await t.client.invite(owner, di.email, 'member');
    const pending = await call('GET', '/v1/org/invitations', { token: owner.accessToken });
    expect(pending.json.items.filter((i: { email: string }) => i.email === di.email)).toEqual([
      expect.objectContaining({ id: second.invitation.id, role: 'member' }),
    ]);
    const old = await call('POST', '/v1/invitations/accept', {
      token: di.accessToken,
      body: { token: first.token },
    });
    expect(old.status).toBe(409);
    expect(old.json.error.message).toMatch(/newer invitation/);
    const ok = await call('POST', '/v1/invitations/accept', {
      token: di.accessToken,
      body: { token: second.token },
    });
    expect(ok.json.role).toBe('member');
    await revoke(owner, second.invitation.id);
  });

  it('refuses a revoked or an expired invitation with a reason, and lists neither as pending', async () => {
    const ed = await t.client.register('ed');
    const revoked = await t.client.invite(owner, ed.email, 'member');
    expect((await revoke(owner, revoked.invitation.id)).status).toBe(204);
    expect((await revoke(owner, revoked.invitation.id)).status).toBe(404);
    const byToken = await call('POST', '/v1/invitations/accept', {
      token: ed.accessToken,
      body: { token: revoked.token },
    });
    expect(byToken.status).toBe(409);
    expect(byToken.json.error.message).toMatch(/revoked/);

    const expired = await t.client.invite(owner, ed.email, 'member');
    await t.db
      .update(invitations)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(invitations.id, expired.invitation.id));
    const pending = await call('GET', '/v1/org/invitations', { token: owner.accessToken });
    expect(pending.json.items.map((i: { id: string }) => i.id)).not.toContain(expired.invitation.id);
    for (const verb of ['preview', 'accept'] as const) {
      const late = await answer(ed, verb, expired.token);
      expect(late.status).toBe(409);
      expect(late.json.error.message).toMatch(/^This invitation expired at /);
    }
    expect(await memberEmails(owner)).not.toContain(ed.email);
  });

  it('answers 404 to another account holding the token, and to a token that matches nothing', async () => {
    const fay = await t.client.register('fay');
    const mallory = await t.client.register('mallory');
    const { invitation, token } = await t.client.invite(owner, fay.email, 'admin');
    const tries = (['preview', 'accept', 'decline'] as const).flatMap((verb) => [
      // A forwarded or leaked link is no use to an account with another address.
      answer(mallory, verb, token),
      answer(mallory, verb, `${token}x`),
      answer(fay, verb, 'guessed'),
    ]);
    for (const res of await Promise.all(tries)) {
      expect(res.status, res.text).toBe(404);
      expect(res.json.error.message).toBe('Invitation not found');
    }
    expect(await orgIds(mallory)).not.toContain(owner.orgId);
    expect((await answer(fay, 'preview', token)).json.role).toBe('admin');
    // An API key belongs to an org; it answers no invitation, even one to its maker's address.
    const key = await t.client.createKey(fay);
    for (const verb of ['preview', 'accept', 'decline'] as const) {
      const asKey = await call('POST', `/v1/invitations/${verb}`, { token: key.secret, body: { token } });
      expect(asKey.status).toBe(403);
    }
    await revoke(owner, invitation.id);
  });

  it('lets an admin invite any role but owner, and not revoke an owner invitation', async () => {
    const admin = await t.client.joinOrg(owner, await t.client.register('admin'), 'admin');
    const gus = await t.client.register('gus');
    const asOwner = await call('POST', '/v1/org/invitations', {
      token: admin.accessToken,
      body: { email: gus.email, role: 'owner' },
    });
    expect(asOwner.status).toBe(403);
    expect(asOwner.json.error.message).toBe('Only owners can grant or remove the owner role');
    const byOwner = await t.client.invite(owner, gus.email, 'owner');
    expect((await revoke(admin, byOwner.invitation.id)).status).toBe(403);
    const asAdmin = await t.client.invite(admin, gus.email, 'admin');
    expect(asAdmin.invitation).toMatchObject({ role: 'admin', invitedBy: admin.email });
    expect((await revoke(admin, asAdmin.invitation.id)).status).toBe(204);
    const viewer = await t.client.joinOrg(owner, await t.client.register('viewer'), 'viewer');
    const byViewer = await call('POST', '/v1/org/invitations', {
      token: viewer.accessToken,
      body: { email: gus.email, role: 'viewer' },
    });
    expect(byViewer.status).toBe(403);
    expect((await call('GET', '/v1/org/invitations', { token: viewer.accessToken })).status).toBe(403);
  });

  const pendingIds = async (session: Session) =>
    (await call('GET', '/v1/org/invitations', { token: session.accessToken })).json.items.map(
      (i: { id: string }) => i.id,
    );
  /** The invitation's audit entries, newest first: action, who did it, the address and the reason. */
  const auditOf = async (id: string) => {
    const res = await call('GET', `/v1/audit-log?target=${id}`, { token: owner.accessToken });
    return res.json.items.map(
      (e: { action: string; actor: { name: string }; metadata: { email: string; reason?: string } }) => [
        e.action,
        e.actor.name,
        e.metadata.email,
        e.metadata.reason,
      ],
    );
  };
  const orgName = async () => (await call('GET', '/v1/org', { token: owner.accessToken })).json.name;
  /** The invitee's link answers as for any revoked invitation. */
  const expectRevoked = async (invitee: Session, token: string | undefined) => {
    for (const verb of ['preview', 'accept'] as const) {
      const res = await answer(invitee, verb, token);
      expect(res.status, res.text).toBe(409);
      expect(res.json.error.message).toBe(`This invitation was revoked by ${await orgName()}`);
    }
  };

  it('revokes an admin’s pending invitations as they are removed: off the list, the link answers revoked, audited', async () => {
    const mallory = await t.client.joinOrg(owner, await t.client.register('mallory'), 'admin');
    const alt = await t.client.register('mallory-alt');
    // An admin about to be removed invites an account of their own as admin, to come back through it.
    const beforeRemoval = await t.client.invite(mallory, alt.email, 'admin');
    const id = beforeRemoval.invitation.id;
    expect(await pendingIds(owner)).toContain(id);
    const removed = await call('DELETE', `/v1/org/members/${mallory.userId}`, { token: owner.accessToken });
    expect(removed.status, removed.text).toBe(204);
    expect(await pendingIds(owner)).not.toContain(id);
    await expectRevoked(alt, beforeRemoval.token);
    expect(await memberEmails(owner)).not.toContain(alt.email);
    expect(await auditOf(id)).toEqual([
      ['invitation.revoke', owner.email, alt.email, 'member.remove'],
      ['invitation.create', mallory.email, alt.email, undefined],
    ]);
  });

  it('revokes the pending invitations of an admin who leaves, in their own name', async () => {
    const leaver = await t.client.joinOrg(owner, await t.client.register('leaver'), 'admin');
    const pal = await t.client.register('pal');
    const invited = await t.client.invite(leaver, pal.email, 'member');
    const left = await call('DELETE', `/v1/org/members/${leaver.userId}`, { token: leaver.accessToken });
    expect(left.status, left.text).toBe(204);
    expect(await pendingIds(owner)).not.toContain(invited.invitation.id);
    await expectRevoked(pal, invited.token);
    expect((await auditOf(invited.invitation.id))[0]).toEqual([
      'invitation.revoke',
      leaver.email,
      pal.email,
      'member.remove',
    ]);
  });

  it('revokes on a demotion only the invitations the new role cannot grant', async () => {
    const coOwner = await t.client.joinOrg(owner, await t.client.register('co-owner'), 'owner');
    const [o, m] = [await t.client.register('to-own'), await t.client.register('to-member')];
    const asOwner = await t.client.invite(coOwner, o.email, 'owner');
    const asMember = await t.client.invite(coOwner, m.email, 'member');
    const demote = (role: string) =>
      call('PATCH', `/v1/org/members/${coOwner.userId}`, { token: owner.accessToken, body: { role } });
    // An admin cannot make owners, but may still bring in a member.
    expect((await demote('admin')).status).toBe(200);
    const pending = await pendingIds(owner);
    expect(pending).not.toContain(asOwner.invitation.id);
    expect(pending).toContain(asMember.invitation.id);
    await expectRevoked(o, asOwner.token);
    expect((await auditOf(asOwner.invitation.id))[0]).toEqual([
      'invitation.revoke',
      owner.email,
      o.email,
      'member.role_change',
    ]);
    // A member invites nobody.
    expect((await demote('member')).status).toBe(200);
    expect(await pendingIds(owner)).not.toContain(asMember.invitation.id);
    await expectRevoked(m, asMember.token);
  });

  it('revokes what an API key sent as its maker leaves or it is revoked, and keeps what a key handed over sent', async () => {
    const inviteByKey = async (secret: string, email: string) => {
      const res = await call('POST', '/v1/org/invitations', {
        token: secret,
        body: { email, role: 'viewer' },
      });
      expect(res.status, res.text).toBe(201);
      return res.json as { invitation: { id: string; invitedBy: string }; token: string };
    };
    const friend = await t.client.register('key-friend');
    // A key's invitation names the key as its inviter; the key goes with the admin who made it, and so does it.
    const maker = await t.client.joinOrg(owner, await t.client.register('key-maker'), 'admin');
    const makersKey = await t.client.createKey(maker, { name: 'maker key' });
    const byMakersKey = await inviteByKey(makersKey.secret, friend.email);
    expect(byMakersKey.invitation.invitedBy).toBe('key maker key');
    expect(
      (await call('DELETE', `/v1/org/members/${maker.userId}`, { token: maker.accessToken })).status,
    ).toBe(204);
    expect(await pendingIds(owner)).not.toContain(byMakersKey.invitation.id);
    await expectRevoked(friend, byMakersKey.token);
    expect((await auditOf(byMakersKey.invitation.id))[0]).toEqual([
      'invitation.revoke',
      maker.email,
      friend.email,
      'member.remove',
    ]);

    // Revoked on its own.
    const key = await t.client.createKey(owner, { name: 'inviter key' });
    const byKey = await inviteByKey(key.secret, friend.email);
    expect((await call('DELETE', `/v1/api-keys/${key.id}`, { token: owner.accessToken })).status).toBe(200);
    expect(await pendingIds(owner)).not.toContain(byKey.invitation.id);
    await expectRevoked(friend, byKey.token);
    expect((await auditOf(byKey.invitation.id))[0]).toEqual([
      'invitation.revoke',
      owner.email,
      friend.email,
      'api_key.revoke',
    ]);

    // Handed to an owner as its maker is removed: the key still works, and so does what it sent.
    const handing = await t.client.joinOrg(owner, await t.client.register('handing'), 'admin');
    const handed = await t.client.createKey(handing, { name: 'handed key' });
    const byHanded = await inviteByKey(handed.secret, friend.email);
    const transferred = await call('DELETE', `/v1/org/members/${handing.userId}?keys=transfer`, {
      token: owner.accessToken,
    });
    expect(transferred.status, transferred.text).toBe(204);
    expect(await pendingIds(owner)).toContain(byHanded.invitation.id);
    expect((await answer(friend, 'accept', byHanded.token)).status).toBe(200);
  });

  it('makes a key’s invitation expire with the key, and still refuses one whose key has expired', async () => {
    const soon = new Date(Date.now() + 3_600_000).toISOString();
    const key = await t.client.createKey(owner, { name: 'short key', expiresAt: soon });
    const ivo = await t.client.register('ivo');
    const byKey = await call('POST', '/v1/org/invitations', {
      token: key.secret,
      body: { email: ivo.email, role: 'member' },
    });
    expect(byKey.status, byKey.text).toBe(201);
    expect(byKey.json.invitation.expiresAt).toBe(soon);
    // Should a key expire before its invitation does (an expiry the key got later), accepting is still refused.
    await t.db
      .update(invitations)
      .set({ expiresAt: new Date(Date.now() + 7_200_000) })
      .where(eq(invitations.id, byKey.json.invitation.id));
    await t.db
      .update(apiKeys)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(apiKeys.id, key.id));
    const late = await answer(ivo, 'accept', byKey.json.token);
    expect(late.status).toBe(409);
    expect(late.json.error.message).toBe(
      'key short key can no longer invite you to this organisation as member: ask an owner or admin for another invitation',
    );
    expect(await memberEmails(owner)).not.toContain(ivo.email);
  });

  it('refuses an invitation from a login demoted on another instance moments ago, whose role that one still caches', async () => {
    const other = testClient(t.anotherInstance());
    const stale = await t.client.joinOrg(owner, await t.client.register('stale'), 'admin');
    // The other instance loads (and caches for up to 2 s) the admin's role.
    expect((await other.call('GET', '/v1/org/invitations', { token: stale.accessToken })).status).toBe(200);
    const lowered = await call('PATCH', `/v1/org/members/${stale.userId}`, {
      token: owner.accessToken,
      body: { role: 'viewer' },
    });
    expect(lowered.status, lowered.text).toBe(200);
    const late = await other.call('POST', '/v1/org/invitations', {
      token: stale.accessToken,
      body: { email: `late-${Date.now()}@example.com`, role: 'member' },
    });
    expect(late.status, late.text).toBe(403);
    expect(late.json.error.message).toBe('You can no longer invite to this organisation as member');
    const listed = await call('GET', '/v1/org/invitations', { token: owner.accessToken });
    expect(listed.json.items.map((i: { invitedBy: string }) => i.invitedBy)).not.toContain(stale.email);
  });

  it('keeps each org to its own invitations: another org’s id is 404 and its list is its own', async () => {
    const other = await t.client.register('other-owner');
    const hal = await t.client.register('hal');
    const theirs = await t.client.invite(other, hal.email, 'member');
    expect((await revoke(owner, theirs.invitation.id)).status).toBe(404);
    const ours = await call('GET', '/v1/org/invitations', { token: owner.accessToken });
    expect(ours.json.items.map((i: { id: string }) => i.id)).not.toContain(theirs.invitation.id);
    const accepted = await answer(hal, 'accept', theirs.token);
    expect(accepted.json.org.id).toBe(other.orgId);
  });

  it('bounds an org’s pending invitations, then what it sends in a day (429)', async () => {
    const small = await createTestApp({ invitationLimits: { maxPending: 3, maxPerDay: 5 } });
    try {
      const boss = await small.client.register('boss');
      const inviteAs = (n: number) =>
        small.client.call('POST', '/v1/org/invitations', {
          token: boss.accessToken,
          body: { email: `spam-${n}@example.com`, role: 'viewer' },
        });
      const sent = [];
      for (const n of [1, 2, 3]) sent.push((await inviteAs(n)).json.invitation.id);
      const fourth = await inviteAs(4);
      expect(fourth.status).toBe(429);
      expect(fourth.json.error.message).toMatch(/^3 invitations are pending/);
      // Revoking makes room, but not without end: five a day, revoked ones included.
      for (const id of sent)
        await small.client.call('DELETE', `/v1/org/invitations/${id}`, { token: boss.accessToken });
      expect((await inviteAs(5)).status).toBe(201);
      expect((await inviteAs(6)).status).toBe(201);
      const sixth = await inviteAs(7);
      expect(sixth.status).toBe(429);
      expect(sixth.json.error.message).toMatch(/sent 5 invitations in the last 24 hours/);
    } finally {
      small.cleanup();
    }
  });

  it('bounds what one person sends in a day across every org they own, as orgs cost nothing to make', async () => {
    const small = await createTestApp({ invitationLimits: { maxPending: 3, maxPerDay: 4 } });
    try {
      const spammer = await small.client.register('spammer');
      let sent = 0;
      let refused: { status: number; json: { error: { message: string } } } | undefined;
      // Each new org has its own allowance; the person behind them must not get a fresh one with each.
      for (let n = 0; n < 4 && !refused; n += 1) {
        const made = await small.client.call('POST', '/v1/orgs', {
          token: spammer.accessToken,
          body: { name: `Spam ${n}` },
        });
        expect(made.status, made.text).toBe(201);
        const switched = await small.client.call('POST', '/v1/auth/switch-org', {
          token: spammer.accessToken,
          body: { orgId: made.json.id },
        });
        for (let i = 0; i < 3 && !refused; i += 1) {
          const res = await small.client.call('POST', '/v1/org/invitations', {
            token: switched.json.accessToken,
            body: { email: `stranger-${n}-${i}@example.com`, role: 'viewer' },
          });
          if (res.status === 201) sent += 1;
          else refused = res;
        }
      }
      expect(sent).toBe(4);
      expect(refused?.status).toBe(429);
      expect(refused?.json.error.message).toBe(
        'You have sent 4 invitations in the last 24 hours, across your organisations; try again later',
      );

      // Nor through an API key they make in yet another org: a key's invitations count against its maker.
      const another = await small.client.call('POST', '/v1/orgs', {
        token: spammer.accessToken,
        body: { name: 'Spam by key' },
      });
      const inIt = await small.client.call('POST', '/v1/auth/switch-org', {
        token: spammer.accessToken,
        body: { orgId: another.json.id },
      });
      const key = await small.client.createKey({ ...spammer, accessToken: inIt.json.accessToken });
      const byKey = await small.client.call('POST', '/v1/org/invitations', {
        token: key.secret,
        body: { email: 'stranger-by-key@example.com', role: 'viewer' },
      });
      expect(byKey.status, byKey.text).toBe(429);
    } finally {
      small.cleanup();
    }
  });

  it('no longer adds anyone directly through POST /v1/org/members', async () => {
    const ivy = await t.client.register('ivy');
    const res = await call('POST', '/v1/org/members', {
      token: owner.accessToken,
      body: { email: ivy.email, role: 'viewer' },
    });
    expect(res.status).toBe(404);
    expect(await memberEmails(owner)).not.toContain(ivy.email);
  });
});
