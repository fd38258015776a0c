import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type Session } from '../../testing/test-app.js';
import { orgs } from '../db/schema.js';
import { setOrgStanding } from '../services/orgs/standing.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

const GHOST_ORG = 'org_00000000000000000000000000';

describe('org plan and standing for the edge', () => {
  let t: TestApp;
  let owner: Session;

  beforeAll(async () => {
    // New orgs start on Free; the test app would otherwise register them on Enterprise.
    t = await createTestApp({ plan: 'free' });
    owner = await t.client.register('owner');
  });
  afterAll(() => t.cleanup());

  const status = (orgId: string) =>
    t.client.call('GET', `/internal/v1/orgs/${orgId}`, { token: t.edgeServiceToken });
  const setStanding = (orgId: string, body: unknown) =>
    t.client.call('PUT', `/internal/v1/orgs/${orgId}/standing`, { token: t.operatorToken, body });

  it('shows a new org on the free plan with its 1,000-call quota, not suspended', async () => {
    const res = await status(owner.orgId);
    expect(res.status, res.text).toBe(200);
    expect(res.json).toEqual({
      orgId: owner.orgId,
      plan: 'free',
      monthlyCallQuota: 1000,
      suspended: false,
      suspendedReason: null,
    });
    const org = await t.client.call('GET', '/v1/org', { token: owner.accessToken });
    expect(org.json).toMatchObject({ id: owner.orgId, plan: 'free', suspended: false });
  });

  it('answers 404 in the envelope for an org that does not exist', async () => {
    for (const orgId of [GHOST_ORG, 'not-an-id']) {
      const res = await status(orgId);
      expect(res.status).toBe(404);
      expect(res.json).toEqual({
        error: { code: 'not_found', message: 'Organisation not found', requestId: expect.any(String) },
      });
      expect((await setStanding(orgId, { plan: 'pro' })).status).toBe(404);
    }
  });

  it('moves an org to pro and to enterprise, whose quota is unlimited', async () => {
    const org = await t.client.register('upgrader');
    const pro = await setStanding(org.orgId, { plan: 'pro' });
    expect(pro.status, pro.text).toBe(200);
    expect(pro.json).toEqual({
      orgId: org.orgId,
      plan: 'pro',
      monthlyCallQuota: 100_000,
      suspended: false,
      suspendedReason: null,
      subscriptionRetried: false,
      usageBackfillRetried: false,
    });
    const { subscriptionRetried: _s, usageBackfillRetried: _u, ...proStatus } = pro.json;
    expect((await status(org.orgId)).json).toEqual(proStatus);

    await setStanding(org.orgId, { plan: 'enterprise' });
    expect((await status(org.orgId)).json).toMatchObject({ plan: 'enterprise', monthlyCallQuota: null });
    const shown = await t.client.call('GET', '/v1/org', { token: org.accessToken });
    expect(shown.json).toMatchObject({ plan: 'enterprise', suspended: false });
  });

  it('suspends an org with a reason, keeps the first suspension time, and lifting it clears the reason', async () => {
    const org = await t.client.register('debtor');
    const suspended = await setStanding(org.orgId, { suspended: true, reason: 'Payment failed' });
    expect(suspended.json).toEqual({
      orgId: org.orgId,
      plan: 'free',
      monthlyCallQuota: 1000,
      suspended: true,
      suspendedReason: 'Payment failed',
      subscriptionRetried: false,
      usageBackfillRetried: false,
    });
    expect((await status(org.orgId)).json).toMatchObject({ plan: 'free', suspendedReason: 'Payment failed' });
    expect((await t.client.call('GET', '/v1/org', { token: org.accessToken })).json.suspended).toBe(true);
    const [first] = await t.db.select().from(orgs).where(eq(orgs.id, org.orgId));

    // Suspending again (a second failed-payment webhook) changes neither the time nor, unless given, the reason.
    const again = await setStanding(org.orgId, { suspended: true, plan: 'pro' });
    expect(again.json).toMatchObject({ plan: 'pro', suspended: true, suspendedReason: 'Payment failed' });
    const [second] = await t.db.select().from(orgs).where(eq(orgs.id, org.orgId));
    expect(second?.suspendedAt).toEqual(first?.suspendedAt);

    const lifted = await setStanding(org.orgId, { suspended: false });
    expect(lifted.json).toMatchObject({ plan: 'pro', suspended: false, suspendedReason: null });
    const [after] = await t.db.select().from(orgs).where(eq(orgs.id, org.orgId));
    expect(after).toMatchObject({ suspendedAt: null, suspendedReason: null });
  });

  it('lets billing change the standing through the service, as the operator route does', async () => {
    const org = await t.client.register('billed');
    const result = await setOrgStanding(t.db, org.orgId, { suspended: true, reason: 'Card declined' });
    expect(result).toMatchObject({ suspended: true, suspendedReason: 'Card declined' });
    expect((await status(org.orgId)).json).toEqual(result);
    await expect(setOrgStanding(t.db, GHOST_ORG, { plan: 'pro' })).rejects.toMatchObject({
      code: 'not_found',
    });
  });

  it('refuses the status route without the edge token, and the standing route without the operator token', async () => {
    for (const token of [undefined, 'wrong', `${t.edgeServiceToken}x`, t.operatorToken, owner.accessToken]) {
      const res = await t.client.call('GET', `/internal/v1/orgs/${owner.orgId}`, token ? { token } : {});
      expect(res.status, String(token)).toBe(401);
      expect(res.json.error).toEqual(expect.objectContaining({ code: 'unauthenticated' }));
    }
    for (const token of [undefined, 'wrong', t.edgeServiceToken, owner.accessToken]) {
      const res = await t.client.call('PUT', `/internal/v1/orgs/${owner.orgId}/standing`, {
        ...(token ? { token } : {}),
        body: { suspended: true },
      });
      expect(res.status, String(token)).toBe(401);
      expect(res.json.error).toEqual(expect.objectContaining({ code: 'unauthenticated' }));
    }
    expect((await status(owner.orgId)).json.suspended).toBe(false);
  });

  it('answers 400 with details to standing changes that say nothing or do not fit together', async () => {
    const bodies = [
      {},
      { reason: 'no suspension' },
      { suspended: false, reason: 'lifted, yet a reason' },
      { plan: 'gold' },
      { suspended: 'yes' },
      { suspended: true, reason: '' },
      { suspended: true, reason: 'x'.repeat(501) },
    ];
    for (const body of bodies) {
      const res = await setStanding(owner.orgId, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error.code).toBe('validation_failed');
      expect(res.json.error.details.length).toBeGreaterThan(0);
    }
    expect((await status(owner.orgId)).json).toMatchObject({ plan: 'free', suspended: false });
  });
});
