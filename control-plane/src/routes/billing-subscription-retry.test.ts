import { eq } from 'drizzle-orm';
import { beforeEach, describe, expect, it } from 'vitest';
import { HOUR, hourAgo, TEST_STRIPE_KEY } from '../../testing/stripe.js';
import { type RefusalWorld, SUBSCRIPTION_CREATIONS, useRefusalWorld } from '../../testing/stripe-refusals.js';
import { billingCustomers } from '../db/schema.js';
import { PRO_PRICE_LOOKUP_KEY } from '../services/billing/stripe/catalogue.js';
import { createStripeClient } from '../services/billing/stripe/sdk-gateway.js';
import { setOrgStanding } from '../services/orgs/standing.js';

// Stripe's API is unreachable from these machines, so the Stripe side here is the local stand-in
// (control-plane/testing/stripe-server), a fake that refuses a subscription on an archived price or a deleted
// customer as Stripe does (an invalid_request_error), reached through the real SDK. The owner retries through the real plan route.

describe('choosing the plan the org is on after Stripe refused its subscription', () => {
  const { world, creations, planChanges, endSubscription } = useRefusalWorld();
  let t: RefusalWorld['t'];
  let stripe: RefusalWorld['stripe'];
  let owner: RefusalWorld['owner'];
  beforeEach(() => {
    ({ t, stripe, owner } = world);
  });

  const choose = async (plan: string) => {
    const res = await t.client.call('PUT', '/v1/billing/plan', { token: owner.accessToken, body: { plan } });
    expect(res.status).toBe(200);
    return res.json as { plan: string; previousPlan: string; subscriptionRetried: boolean };
  };
  const refused = async () => {
    const res = await t.client.call('GET', '/v1/billing/stats', { token: owner.accessToken });
    return (res.json as { subscriptionRefused: { summary: string } | null }).subscriptionRefused;
  };
  const proPrice = () =>
    [...stripe.server.state.prices.values()].find((p) => p.lookup_key === PRO_PRICE_LOOKUP_KEY);
  const stripeClient = () => createStripeClient({ secretKey: TEST_STRIPE_KEY, apiUrl: stripe.server.url });
  // What an operator does in Stripe's dashboard: archiving the Pro price, and restoring it once told.
  const setProPriceActive = async (active: boolean) => {
    await stripeClient().prices.update(String(proPrice()?.id), { active });
  };

  it('starts the refused first subscription under a new key, and says it retries', async () => {
    // One runner, as one long-running process: its catalogue keeps the Pro price the operator archives.
    const runner = stripe.runner();
    await runner.runOnce();
    await setProPriceActive(false);
    await stripe.addUsage(owner.orgId, 'inference_calls', 10, hourAgo(3));
    await runner.runOnce();
    expect(creations()).toHaveLength(1);
    expect((await refused())?.summary).toContain(
      'Once that is fixed, an owner can try again by choosing the Pro plan again: meridian plan set pro',
    );

    // Told, the operator restores the price; the owner chooses Pro again (twice: the second queues nothing more).
    await setProPriceActive(true);
    expect(await choose('pro')).toMatchObject({
      plan: 'pro',
      previousPlan: 'pro',
      subscriptionRetried: true,
    });
    expect((await choose('pro')).subscriptionRetried).toBe(true);
    expect((await planChanges()).map((c) => [c.reason, c.status])).toEqual([['retry', 'pending']]);
    await runner.runOnce(Date.now() + HOUR);

    expect(creations().map((r) => r.idempotencyKey)).toEqual([
      `subscription-${owner.orgId}`,
      `subscription-${owner.orgId}-after-refusal-1`,
    ]);
    expect((await stripe.subscriptionItems(owner.orgId)).filter((i) => !i.metered)).toMatchObject([
      { lookupKey: PRO_PRICE_LOOKUP_KEY },
    ]);
    expect((await planChanges()).map((c) => c.status)).toEqual(['applied']);
    expect(await refused()).toBeNull();
    // Once it started, choosing Pro again is the no-op it always was.
    expect((await choose('pro')).subscriptionRetried).toBe(false);
    expect(await planChanges()).toHaveLength(1);
  });

  it('builds the retried subscription from the Pro price the operator made in place of the archived one', async () => {
    const runner = stripe.runner();
    await runner.runOnce();
    const archived = proPrice();
    await setProPriceActive(false);
    await stripe.addUsage(owner.orgId, 'inference_calls', 10, hourAgo(3));
    await runner.runOnce();
    expect(await refused()).not.toBeNull();

    // The operator fixes it with a new Pro price under the same lookup key, with no restart of the runner.
    const replacement = await stripeClient().prices.create({
      currency: 'usd',
      product: String(archived?.product),
      unit_amount: Number(archived?.unit_amount_decimal),
      recurring: { interval: 'month', usage_type: 'licensed' },
      lookup_key: PRO_PRICE_LOOKUP_KEY,
    });
    expect((await choose('pro')).subscriptionRetried).toBe(true);
    await runner.runOnce();

    expect(await refused()).toBeNull();
    const subscription = stripe.server.state.subscriptions.get(await stripe.subscriptionOf(owner.orgId));
    const items = subscription?.items as { data: { price: { id: string } }[] } | undefined;
    const prices = items?.data.map((i) => i.price.id) ?? [];
    expect(prices).toContain(replacement.id);
    expect(prices).not.toContain(archived?.id);
  });

  it('starts a refused renewal again when the owner chooses Pro again', async () => {
    const runner = stripe.runner();
    await stripe.addUsage(owner.orgId, 'inference_calls', 10, hourAgo(3));
    await runner.runOnce();
    // Stripe ends the subscription (unpaid); the webhook drops the org to Free and the owner chooses Pro again,
    // while the Pro price is archived: the renewal is refused.
    const ended = await endSubscription();
    await setProPriceActive(false);
    await choose('pro');
    await runner.runOnce();
    expect(creations()).toHaveLength(2);
    expect(await refused()).not.toBeNull();

    await setProPriceActive(true);
    expect((await choose('pro')).subscriptionRetried).toBe(true);
    await runner.runOnce();

    const renewal = `subscription-${owner.orgId}-after-${ended}`;
    expect(creations().map((r) => r.idempotencyKey)).toEqual([
      `subscription-${owner.orgId}`,
      renewal,
      `${renewal}-after-refusal-1`,
    ]);
    expect(await stripe.subscriptionOf(owner.orgId)).not.toBe(ended);
    expect((await stripe.subscriptionItems(owner.orgId)).filter((i) => !i.metered)).toMatchObject([
      { lookupKey: PRO_PRICE_LOOKUP_KEY },
    ]);
    expect((await planChanges()).map((c) => [c.reason, c.status])).toEqual([
      ['plan_change', 'refused'],
      ['retry', 'applied'],
    ]);
    expect(await refused()).toBeNull();
  });

  it('makes a new customer when Stripe refused the first subscription for a customer deleted in Stripe', async () => {
    // Billing starts: the customer is made, the subscription's answer is lost (dropped twice: the SDK resends).
    stripe.server.failNext(2, 'drop', SUBSCRIPTION_CREATIONS);
    await stripe.addUsage(owner.orgId, 'inference_calls', 10, hourAgo(3));
    await stripe.runner().runOnce();
    const deleted = await stripe.customerOf(owner.orgId);
    // An operator deletes the customer in Stripe's dashboard: the resend is refused, No such customer.
    await stripeClient().customers.del(deleted);
    await stripe.runner().runOnce();
    expect(await refused()).toMatchObject({ code: 'resource_missing' });

    // Choosing Pro again cannot succeed on the deleted customer: billing makes the org a new one.
    expect((await choose('pro')).subscriptionRetried).toBe(true);
    await stripe.runner().runOnce();
    const customer = await stripe.customerOf(owner.orgId);
    expect(customer).not.toBe(deleted);
    expect(stripe.server.state.customers.get(customer)?.metadata).toMatchObject({ org_id: owner.orgId });
    const subscription = stripe.server.state.subscriptions.get(await stripe.subscriptionOf(owner.orgId));
    expect(subscription).toMatchObject({ customer, status: 'active' });
    expect(await refused()).toBeNull();
    // Usage from now on is counted on the new customer (with this month's usage the deleted one had, resent:
    // billing-usage-backfill.test.ts).
    const resent = await stripe.stripeTotal(owner.orgId, 'inference_calls');
    await stripe.addUsage(owner.orgId, 'inference_calls', 7, hourAgo(1));
    await stripe.runner().runOnce();
    expect(await stripe.stripeTotal(owner.orgId, 'inference_calls')).toBe(resent + 7);
  });

  it('makes a new customer when Stripe refused a renewal for a customer deleted in Stripe', async () => {
    await stripe.addUsage(owner.orgId, 'inference_calls', 10, hourAgo(3));
    await stripe.runner().runOnce();
    const deleted = await stripe.customerOf(owner.orgId);
    const ended = await stripe.subscriptionOf(owner.orgId);
    // Deleting the customer cancels its subscription; the webhook drops the org to Free; the owner chooses Pro.
    await stripeClient().customers.del(deleted);
    await setOrgStanding(t.db, owner.orgId, { plan: 'free' }, { syncStripe: false });
    await choose('pro');
    await stripe.runner().runOnce();
    expect(await refused()).toMatchObject({ code: 'resource_missing' });

    expect((await choose('pro')).subscriptionRetried).toBe(true);
    await stripe.runner().runOnce();
    const customer = await stripe.customerOf(owner.orgId);
    expect(customer).not.toBe(deleted);
    const renewed = await stripe.subscriptionOf(owner.orgId);
    expect(renewed).not.toBe(ended);
    expect(stripe.server.state.subscriptions.get(renewed)).toMatchObject({ customer });
    expect((await stripe.subscriptionItems(owner.orgId)).filter((i) => !i.metered)).toMatchObject([
      { lookupKey: PRO_PRICE_LOOKUP_KEY },
    ]);
    expect(await refused()).toBeNull();
  });

  it('starts an Enterprise org’s refused subscription when an operator sets Enterprise again', async () => {
    const setStanding = async (body: unknown) => {
      const res = await t.client.call('PUT', `/internal/v1/orgs/${owner.orgId}/standing`, {
        token: t.operatorToken,
        body,
      });
      expect(res.status, res.text).toBe(200);
      return res.json as { plan: string; subscriptionRetried: boolean; usageBackfillRetried: boolean };
    };
    // A contracted org: the operator sets Enterprise before billing starts.
    expect((await setStanding({ plan: 'enterprise' })).subscriptionRetried).toBe(false);
    // Billing starts, the subscription's answer is lost, and the customer is deleted in Stripe's dashboard.
    stripe.server.failNext(2, 'drop', SUBSCRIPTION_CREATIONS);
    await stripe.addUsage(owner.orgId, 'inference_calls', 10, hourAgo(3));
    await stripe.runner().runOnce();
    const deleted = await stripe.customerOf(owner.orgId);
    await stripeClient().customers.del(deleted);
    await stripe.runner().runOnce();
    expect((await refused())?.summary).toContain('ask your account manager to have it tried again');
    // Choosing Enterprise again is not the owner's to do; the operator does it for the account manager.
    const owners = await t.client.call('PUT', '/v1/billing/plan', {
      token: owner.accessToken,
      body: { plan: 'enterprise' },
    });
    expect(owners.status).toBe(400);

    expect(await setStanding({ plan: 'enterprise' })).toMatchObject({
      plan: 'enterprise',
      subscriptionRetried: true,
      usageBackfillRetried: false,
    });
    expect((await planChanges()).map((c) => [c.reason, c.fromPlan, c.toPlan])).toEqual([
      ['retry', 'enterprise', 'enterprise'],
    ]);
    await stripe.runner().runOnce();

    const customer = await stripe.customerOf(owner.orgId);
    expect(customer).not.toBe(deleted);
    const subscription = stripe.server.state.subscriptions.get(await stripe.subscriptionOf(owner.orgId));
    expect(subscription).toMatchObject({ customer, status: 'active' });
    // Enterprise has no fee item: its contract is invoiced outside Stripe billing.
    expect((await stripe.subscriptionItems(owner.orgId)).every((i) => i.metered)).toBe(true);
    expect(await refused()).toBeNull();
    // Once started, setting Enterprise again asks for nothing.
    expect((await setStanding({ plan: 'enterprise' })).subscriptionRetried).toBe(false);
  });

  it('changes nothing, as before, when Stripe refused nothing', async () => {
    await stripe.addUsage(owner.orgId, 'inference_calls', 10, hourAgo(3));
    await stripe.runner().runOnce();
    const [row] = await t.db.select().from(billingCustomers).where(eq(billingCustomers.orgId, owner.orgId));
    expect(row?.subscriptionId).toMatch(/^sub_/);

    expect(await choose('pro')).toMatchObject({
      plan: 'pro',
      previousPlan: 'pro',
      subscriptionRetried: false,
    });
    await stripe.runner().runOnce();
    expect(await planChanges()).toEqual([]);
    expect(creations()).toHaveLength(1);
  });
});
