import { eq } from 'drizzle-orm';
import { beforeEach, describe, expect, it } from 'vitest';
import { HOUR, hourAgo, TEST_STRIPE_KEY } from '../../testing/stripe.js';
import { type RefusalWorld, SUBSCRIPTION_CREATIONS, useRefusalWorld } from '../../testing/stripe-refusals.js';
import { billingCustomers } from '../db/schema.js';
import { PRO_PRICE_LOOKUP_KEY } from '../services/billing/stripe/catalogue.js';
import { createStripeClient } from '../services/billing/stripe/sdk-gateway.js';
import { setOrgStanding } from '../services/orgs/standing.js';

// Stripe's API is unreachable from these machines, so the Stripe side here is the local stand-in
// (control-plane/testing/stripe-server), a fake that refuses a subscription on a deleted customer or an archived
// price as Stripe does (an invalid_request_error), reached through the real SDK. The org's admin reads the
// refusal through the real routes.

describe('a subscription creation Stripe refuses for good', () => {
  const { world, creations, planChanges, endSubscription } = useRefusalWorld();
  let t: RefusalWorld['t'];
  let stripe: RefusalWorld['stripe'];
  let owner: RefusalWorld['owner'];
  beforeEach(() => {
    ({ t, stripe, owner } = world);
  });

  const refusalLogs = () => stripe.logLines.filter((line) => line.includes('stripe refused to start'));
  const read = async (path: string) => {
    const res = await t.client.call('GET', path, { token: owner.accessToken });
    expect(res.status).toBe(200);
    return res.json as { subscriptionRefused: Record<string, unknown> | null };
  };
  const archiveProPrice = async () => {
    const price = [...stripe.server.state.prices.values()].find(
      (p) => p.lookup_key === PRO_PRICE_LOOKUP_KEY && p.active === true,
    );
    const client = createStripeClient({ secretKey: TEST_STRIPE_KEY, apiUrl: stripe.server.url });
    await client.prices.update(String(price?.id), { active: false });
  };

  it('stops sending a first subscription Stripe refuses, says why, and starts one when the plan changes', async () => {
    // One runner, as one long-running process: its catalogue still names the Pro price an operator archives.
    const runner = stripe.runner();
    await runner.runOnce();
    await archiveProPrice();
    await stripe.addUsage(owner.orgId, 'inference_calls', 10, hourAgo(3));
    await runner.runOnce();
    expect(creations()).toHaveLength(1);

    // More usage, more passes: the refused request is not sent again, and the operator is told once.
    for (const hoursAgo of [2, 1]) {
      await stripe.addUsage(owner.orgId, 'inference_calls', 5, hourAgo(hoursAgo));
      await runner.runOnce(Date.now() + HOUR);
    }
    expect(creations()).toHaveLength(1);
    expect(refusalLogs()).toHaveLength(1);
    expect(refusalLogs()[0]).toContain('"level":"error"');
    const [row] = await t.db.select().from(billingCustomers).where(eq(billingCustomers.orgId, owner.orgId));
    expect(row?.pendingSubscription).toBeNull();

    // The owner (billing:read) reads why, on the stats `meridian plan` shows and the invoice the dashboard shows.
    const stats = await read('/v1/billing/stats');
    expect(stats.subscriptionRefused).toMatchObject({
      type: 'invalid_request_error',
      message: 'The price specified is inactive. This field only accepts active prices.',
    });
    expect(stats.subscriptionRefused?.summary).toMatch(
      /^Billing could not start your subscription: Stripe refused it \(invalid_request_error\): The price specified is inactive\./,
    );
    expect((await read('/v1/billing/invoices/upcoming')).subscriptionRefused).toEqual(
      stats.subscriptionRefused,
    );

    // The owner moves to Free: a new creation, under a key of its own, starts a subscription of metered items.
    const changed = await t.client.call('PUT', '/v1/billing/plan', {
      token: owner.accessToken,
      body: { plan: 'free' },
    });
    expect(changed.status).toBe(200);
    await runner.runOnce(Date.now() + 2 * HOUR);

    expect(creations().map((r) => r.idempotencyKey)).toEqual([
      `subscription-${owner.orgId}`,
      `subscription-${owner.orgId}-after-refusal-1`,
    ]);
    expect(await stripe.subscriptionItems(owner.orgId)).toSatisfy((items: { metered: boolean }[]) =>
      items.every((item) => item.metered),
    );
    expect((await planChanges()).map((c) => c.status)).toEqual(['applied']);
    expect((await read('/v1/billing/stats')).subscriptionRefused).toBeNull();
  });

  it('stops resending a renewal Stripe refuses, settles the change it held, and applies the next one', async () => {
    await stripe.addUsage(owner.orgId, 'inference_calls', 10, hourAgo(3));
    await stripe.runner().runOnce();
    const ended = await stripe.subscriptionOf(owner.orgId);
    const renewals = () => creations().slice(1);
    // An operator deletes the customer in Stripe (which cancels its subscription); the webhook drops the org to
    // Free, and the owner chooses Pro again: the renewal names a customer Stripe no longer has.
    const client = createStripeClient({ secretKey: TEST_STRIPE_KEY, apiUrl: stripe.server.url });
    await client.customers.del(await stripe.customerOf(owner.orgId));
    await setOrgStanding(t.db, owner.orgId, { plan: 'free' }, { syncStripe: false });
    await setOrgStanding(t.db, owner.orgId, { plan: 'pro' });
    // Its first answer is lost, so the request stays stored and the next pass is a resend.
    stripe.server.failNext(2, 'drop', SUBSCRIPTION_CREATIONS);
    const lost = await stripe.runner().runOnce();
    expect(lost.planChanges).toMatchObject({ failed: 1 });

    let now = Date.now();
    for (let pass = 0; pass < 4; pass += 1) {
      now += 10 * 60_000; // past the longest backoff
      await stripe.runner().runOnce(now);
    }
    // Dropped twice (the SDK resends once), then refused once: never sent again.
    expect(renewals().map((r) => r.outcome)).toEqual(['dropped', 'dropped', 'answered']);
    expect(refusalLogs()).toHaveLength(1);
    expect(await planChanges()).toMatchObject([
      { status: 'refused', lastError: expect.stringContaining('resource_missing') },
    ]);
    const refused = (await read('/v1/billing/stats')).subscriptionRefused;
    expect(refused).toMatchObject({ type: 'invalid_request_error', code: 'resource_missing' });
    expect(refused?.message).toMatch(/^No such customer: 'cus_/);

    // The owner leaves Pro: the change goes through (nothing to start on an ended subscription for Free).
    const changed = await t.client.call('PUT', '/v1/billing/plan', {
      token: owner.accessToken,
      body: { plan: 'free' },
    });
    expect(changed.status).toBe(200);
    await stripe.runner().runOnce(now + 10 * 60_000);
    expect((await planChanges()).map((c) => c.status)).toEqual(['refused', 'applied']);
    expect(await stripe.subscriptionOf(owner.orgId)).toBe(ended);
    expect((await read('/v1/billing/stats')).subscriptionRefused).toBeNull();
  });

  it('settles as refused only the changes the refused creation was built from, not one made while it was resent', async () => {
    const runner = stripe.runner();
    await stripe.addUsage(owner.orgId, 'inference_calls', 10, hourAgo(3));
    await runner.runOnce();
    // Stripe ends the subscription; the webhook drops the org to Free; the owner chooses Pro again while the Pro
    // price is archived, and the renewal's first answer is lost, so the pass after resends it.
    const _ended = await endSubscription();
    await archiveProPrice();
    await setOrgStanding(t.db, owner.orgId, { plan: 'pro' });
    stripe.server.failNext(2, 'drop', SUBSCRIPTION_CREATIONS);
    await runner.runOnce();

    // Meanwhile the owner moves to Free, which needs no new subscription; then the resend is refused.
    const changed = await t.client.call('PUT', '/v1/billing/plan', {
      token: owner.accessToken,
      body: { plan: 'free' },
    });
    expect(changed.status).toBe(200);
    let now = Date.now();
    for (let pass = 0; pass < 3; pass += 1) {
      now += 10 * 60_000; // past the longest backoff
      await runner.runOnce(now);
    }
    expect(refusalLogs()).toHaveLength(1);
    // The change to Pro the renewal was built from is refused; the move to Free is applied, and clears it.
    expect((await planChanges()).map((c) => [c.toPlan, c.status])).toEqual([
      ['pro', 'refused'],
      ['free', 'applied'],
    ]);
    expect((await read('/v1/billing/stats')).subscriptionRefused).toBeNull();
  });

  it('keeps resending a stored creation after a transient failure, and records no refusal', async () => {
    stripe.server.failNext(1, 'rate_limit', SUBSCRIPTION_CREATIONS);
    await stripe.addUsage(owner.orgId, 'inference_calls', 10, hourAgo(3));
    await stripe.runner().runOnce();
    stripe.server.failNext(1, 'lock_timeout', SUBSCRIPTION_CREATIONS);
    await stripe.runner().runOnce();
    const [row] = await t.db.select().from(billingCustomers).where(eq(billingCustomers.orgId, owner.orgId));
    expect(row?.pendingSubscription).not.toBeNull();

    await stripe.runner().runOnce();
    expect(await stripe.subscriptionOf(owner.orgId)).toMatch(/^sub_/);
    expect(creations().map((r) => r.status)).toEqual([429, 429, 200]);
    expect(refusalLogs()).toEqual([]);
    expect((await read('/v1/billing/stats')).subscriptionRefused).toBeNull();
  });
});
