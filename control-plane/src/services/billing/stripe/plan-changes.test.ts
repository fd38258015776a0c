import { setTimeout as sleep } from 'node:timers/promises';
import { eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createStripeTestbed, hourAgo, type StripeTestbed } from '../../../../testing/stripe.js';
import { orgs, stripePlanChanges } from '../../../db/schema.js';
import { setOrgStanding } from '../../orgs/standing.js';
import { calendarMonth } from '../period.js';
import { ensureMeters, PRO_PRICE_LOOKUP_KEY } from './catalogue.js';
import { reconcileSubscriptions } from './reconcile.js';

// Stripe's API is unreachable from these machines, so the Stripe side here is the local stand-in
// (control-plane/testing/stripe-server), a fake that updates subscription items as Stripe's API does (add,
// swap, delete with clear_usage, proration_behavior), reached through the real stripe SDK.

const SUBSCRIPTION_UPDATE = { method: 'POST', path: /^\/v1\/subscriptions\/sub_/ };

describe('plan changes reach the Stripe subscription', () => {
  let t: StripeTestbed;
  let org: string;
  beforeEach(async () => {
    t = await createStripeTestbed();
    org = await t.createOrg('free');
    await t.addUsage(org, 'inference_calls', 40, hourAgo(2));
    await t.runner().runOnce(); // billing starts: a customer, a subscription of metered items, usage pushed
  });
  afterEach(() => t.cleanup());

  const changes = () =>
    t.db
      .select()
      .from(stripePlanChanges)
      .where(eq(stripePlanChanges.orgId, org))
      .orderBy(stripePlanChanges.id);
  const fees = async () => (await t.subscriptionItems(org)).filter((item) => !item.metered);

  it('moves a Free subscription to Pro with one update that keeps the metered items and their usage', async () => {
    const metered = (await t.subscriptionItems(org)).filter((item) => item.metered);
    expect(await fees()).toEqual([]);

    await setOrgStanding(t.db, org, { plan: 'pro' });
    expect(await changes()).toMatchObject([{ fromPlan: 'free', toPlan: 'pro', status: 'pending' }]);
    const pass = await t.runner().runOnce();

    expect(pass.planChanges).toEqual({ updated: 1, alreadyInStep: 0, failed: 0, refused: 0 });
    expect(await fees()).toEqual([
      { id: expect.any(String), lookupKey: PRO_PRICE_LOOKUP_KEY, metered: false },
    ]);
    expect((await t.subscriptionItems(org)).filter((item) => item.metered)).toEqual(metered);
    expect(await t.subscriptionUpdates(org)).toEqual([
      { subscription: await t.subscriptionOf(org), requestId: expect.any(String), prorationBehavior: 'none' },
    ]);
    // No proration: the platform's invoice charges the month's full fee of the plan it ends on, as Stripe will.
    expect(t.server.state.invoiceItems).toEqual([]);
    expect(await t.stripeTotal(org, 'inference_calls')).toBe(40);
    expect(await changes()).toMatchObject([{ status: 'applied', attempts: 0 }]);

    await t.runner().runOnce();
    expect(await t.subscriptionUpdates(org)).toHaveLength(1);
  });

  it('takes the fee item off when Pro goes back to Free, never a metered item, and clears no usage', async () => {
    await setOrgStanding(t.db, org, { plan: 'pro' });
    await t.runner().runOnce();
    await setOrgStanding(t.db, org, { plan: 'free' });
    await t.runner().runOnce();

    expect(await fees()).toEqual([]);
    expect(
      t.server.state.deletedItems.map((d) => ({ clearUsage: d.clearUsage, price: d.item.price })),
    ).toEqual([{ clearUsage: false, price: expect.objectContaining({ lookup_key: PRO_PRICE_LOOKUP_KEY }) }]);
    expect(await t.subscriptionUpdates(org)).toHaveLength(2);
    expect(await t.stripeTotal(org, 'inference_calls')).toBe(40);
  });

  it('queues nothing for an org whose billing has not started, whose subscription then starts on its plan', async () => {
    const later = await t.createOrg('free', 'Later Ltd');
    await setOrgStanding(t.db, later, { plan: 'pro' });
    expect(await t.db.select().from(stripePlanChanges).where(eq(stripePlanChanges.orgId, later))).toEqual([]);

    await t.addUsage(later, 'inference_calls', 3, hourAgo(2));
    await t.runner().runOnce();
    expect((await t.subscriptionItems(later)).filter((item) => !item.metered)).toMatchObject([
      { lookupKey: PRO_PRICE_LOOKUP_KEY },
    ]);
    expect(await t.subscriptionUpdates(later)).toEqual([]);
  });

  it('retries after Stripe fails, with backoff, and applies the change once', async () => {
    await setOrgStanding(t.db, org, { plan: 'pro' });
    t.server.failNext(1, 'server_error', SUBSCRIPTION_UPDATE);
    const failed = await t.runner().runOnce();
    expect(failed.planChanges).toEqual({ updated: 0, alreadyInStep: 0, failed: 1, refused: 0 });
    const [waiting] = await changes();
    expect(waiting).toMatchObject({
      status: 'pending',
      attempts: 1,
      lastError: expect.stringContaining('500'),
    });
    expect(await fees()).toEqual([]);

    const recovered = await t.runner().runOnce(Date.now() + 60_000);
    expect(recovered.planChanges).toEqual({ updated: 1, alreadyInStep: 0, failed: 0, refused: 0 });
    expect(await fees()).toMatchObject([{ lookupKey: PRO_PRICE_LOOKUP_KEY }]);
    expect(await t.subscriptionUpdates(org)).toHaveLength(1);
  });

  it('applies once when Stripe applied the update but its answer was lost', async () => {
    await setOrgStanding(t.db, org, { plan: 'pro' });
    t.server.failNext(2, 'accept_then_drop', SUBSCRIPTION_UPDATE);
    for (let pass = 0; pass < 3 && (await changes())[0]?.status === 'pending'; pass += 1) {
      await t.runner().runOnce(Date.now() + pass * 60_000);
    }
    expect(await changes()).toMatchObject([{ status: 'applied' }]);
    expect(await fees()).toMatchObject([{ lookupKey: PRO_PRICE_LOOKUP_KEY }]);
    expect(await t.subscriptionUpdates(org)).toHaveLength(1);
  });

  it('applies a change committed while the worker was stopped once it starts again', async () => {
    const before = t.runner({ intervalMs: 60_000 });
    before.start();
    await before.stop(); // the process goes down
    await setOrgStanding(t.db, org, { plan: 'pro' });
    expect(await t.subscriptionUpdates(org)).toEqual([]);

    const restarted = await t.runner().runOnce();
    expect(restarted.planChanges).toMatchObject({ updated: 1 });
    expect(await fees()).toMatchObject([{ lookupKey: PRO_PRICE_LOOKUP_KEY }]);
  });

  it('sends nothing again after a crash between Stripe applying the change and the row being marked', async () => {
    await setOrgStanding(t.db, org, { plan: 'pro' });
    const [row] = await changes();
    // What the crashed worker had sent: the same update under the same key, its row still pending.
    const catalogue = await ensureMeters(t.db, t.gateway);
    await t.gateway.updateSubscriptionItems(
      {
        subscriptionId: await t.subscriptionOf(org),
        changes: [{ kind: 'add', priceId: catalogue.proPriceId }],
        prorationBehavior: 'none',
      },
      `plan-change-${row?.id}-0`,
    );

    const restarted = await t.runner().runOnce();
    expect(restarted.planChanges).toEqual({ updated: 0, alreadyInStep: 1, failed: 0, refused: 0 });
    expect(await changes()).toMatchObject([{ status: 'applied' }]);
    expect(await t.subscriptionUpdates(org)).toHaveLength(1);
  });

  it('ends on the last plan when the plan changes twice before a pass', async () => {
    await setOrgStanding(t.db, org, { plan: 'pro' });
    await setOrgStanding(t.db, org, { plan: 'free' });
    await setOrgStanding(t.db, org, { plan: 'pro' });
    const pass = await t.runner().runOnce();
    expect(pass.planChanges).toEqual({ updated: 1, alreadyInStep: 0, failed: 0, refused: 0 });
    expect(await fees()).toMatchObject([{ lookupKey: PRO_PRICE_LOOKUP_KEY }]);
    expect((await changes()).map((c) => c.status)).toEqual(['applied', 'applied', 'applied']);
  });

  it('ends on the last plan when it changes again while the first update is on its way to Stripe', async () => {
    await setOrgStanding(t.db, org, { plan: 'pro' });
    t.server.setLatency(300, SUBSCRIPTION_UPDATE);
    const runner = t.runner();
    const first = runner.runOnce();
    while (
      !t.server.requests.some((r) => r.method === 'POST' && r.path.startsWith('/v1/subscriptions/sub_'))
    ) {
      await sleep(10);
    }
    await setOrgStanding(t.db, org, { plan: 'free' });
    await first;
    expect(await fees()).toMatchObject([{ lookupKey: PRO_PRICE_LOOKUP_KEY }]);
    expect((await changes()).map((c) => c.status)).toEqual(['applied', 'pending']);

    await runner.runOnce();
    expect(await fees()).toEqual([]);
    expect(await t.subscriptionUpdates(org)).toHaveLength(2);
  });
});

describe('reconciling subscriptions with plans', () => {
  let t: StripeTestbed;
  let org: string;
  beforeEach(async () => {
    t = await createStripeTestbed();
    org = await t.createOrg('pro');
    await t.addUsage(org, 'cpu_minutes', 120, hourAgo(2));
    await t.runner().runOnce();
  });
  afterEach(() => t.cleanup());

  it('finds a subscription that lost its fee item and puts it back', async () => {
    // Tampering: someone removes the Pro fee from the subscription in Stripe's dashboard.
    const subscription = t.server.state.subscriptions.get(await t.subscriptionOf(org));
    const items = subscription?.items as { data: { price: { lookup_key: string | null } }[] };
    items.data = items.data.filter((item) => item.price.lookup_key !== PRO_PRICE_LOOKUP_KEY);

    const catalogue = await ensureMeters(t.db, t.gateway);
    const found = await reconcileSubscriptions(t.db, t.gateway, catalogue, {
      now: Date.now(),
      logger: t.logger,
    });
    expect(found.drifted).toEqual([
      {
        orgId: org,
        subscriptionId: await t.subscriptionOf(org),
        plan: 'pro',
        changes: [{ kind: 'add', priceId: catalogue.proPriceId }],
      },
    ]);
    const pass = await t.runner().runOnce();
    expect(pass.planChanges).toMatchObject({ updated: 1 });
    expect((await t.subscriptionItems(org)).filter((item) => !item.metered)).toMatchObject([
      { lookupKey: PRO_PRICE_LOOKUP_KEY },
    ]);
  });

  it('starts a new subscription when the org picks Pro again after Stripe ended the old one', async () => {
    // Stripe ended the subscription (unpaid), and its webhook dropped the org to Free.
    const ended = await t.subscriptionOf(org);
    const old = t.server.state.subscriptions.get(ended);
    const endedAt = Math.floor(Date.now() / 1000) - 60;
    if (old) Object.assign(old, { status: 'canceled', ended_at: endedAt });
    await setOrgStanding(t.db, org, { plan: 'free' }, { syncStripe: false });

    // The owner chooses Pro again: the fee must be charged on a subscription that still bills.
    await setOrgStanding(t.db, org, { plan: 'pro' });
    const now = Date.now();
    const pass = await t.runner().runOnce(now);
    expect(pass.planChanges).toMatchObject({ updated: 1, failed: 0 });
    const renewed = await t.subscriptionOf(org);
    expect(renewed).not.toBe(ended);
    // Anchored like a first subscription: its periods are the platform's calendar months, the first not prorated
    // and backdated no further than where the ended one stopped, so no usage is billed twice.
    const firstOfNextMonth = calendarMonth(now).end / 1000;
    expect(t.server.state.subscriptions.get(renewed)).toMatchObject({
      billing_cycle_anchor: firstOfNextMonth,
    });
    expect(t.server.state.subscriptionCreations.at(-1)).toEqual({
      subscription: renewed,
      billingCycleAnchor: firstOfNextMonth,
      backdateStartDate: Math.max(calendarMonth(now).start / 1000, endedAt),
      prorationBehavior: 'none',
    });
    expect(t.server.state.subscriptions.get(renewed)?.status).toBe('active');
    expect((await t.subscriptionItems(org)).filter((item) => !item.metered)).toMatchObject([
      { lookupKey: PRO_PRICE_LOOKUP_KEY },
    ]);
    expect((await t.subscriptionItems(org)).filter((item) => item.metered).length).toBeGreaterThan(0);
    expect(await t.db.select().from(stripePlanChanges).where(eq(stripePlanChanges.orgId, org))).toMatchObject(
      [{ status: 'applied' }],
    );

    // Applied once: the next pass finds it in step and makes no other subscription.
    const again = await t.runner().runOnce();
    expect(again.planChanges).toMatchObject({ updated: 0 });
    expect(await t.subscriptionOf(org)).toBe(renewed);
  });

  it('takes the fee off a subscription whose org left Pro before plan changes were queued', async () => {
    await t.db.update(orgs).set({ plan: 'free' }).where(eq(orgs.id, org)); // a change Stripe never heard of
    const pass = await t.runner().runOnce(); // a fresh runner compares subscriptions on its first pass
    expect(pass.subscriptionsDrifted).toBe(1);
    expect((await t.subscriptionItems(org)).filter((item) => !item.metered)).toEqual([]);
    expect(await t.stripeTotal(org, 'cpu_minutes')).toBe(2);

    const again = await t.runner().runOnce();
    expect(again.subscriptionsDrifted).toBe(0);
  });
});
