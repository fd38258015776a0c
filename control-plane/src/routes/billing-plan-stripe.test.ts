import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStripeTestbed, hourAgo, type StripeTestbed } from '../../testing/stripe.js';
import { createTestApp, type Session } from '../../testing/test-app.js';
import { PRO_PRICE_LOOKUP_KEY } from '../services/billing/stripe/catalogue.js';

// Stripe's API is unreachable from these machines, so the Stripe side here is the local stand-in
// (control-plane/testing/stripe-server), a fake that updates subscription items as Stripe's API does.

describe('plan changes through the API reach the Stripe subscription', () => {
  let t: Awaited<ReturnType<typeof createTestApp>>;
  let stripe: StripeTestbed;
  let owner: Session;
  beforeAll(async () => {
    t = await createTestApp({ plan: 'free' });
    stripe = await createStripeTestbed({ db: t.db });
    owner = await t.client.register('owner');
    await stripe.addUsage(owner.orgId, 'inference_calls', 25, hourAgo(2));
    await stripe.runner().runOnce(); // billing starts on Free: metered items only
  });
  afterAll(async () => {
    await stripe.cleanup();
    t.cleanup();
  });

  const feeItems = async () =>
    (await stripe.subscriptionItems(owner.orgId))
      .filter((item) => !item.metered)
      .map((item) => item.lookupKey);

  it('puts the Pro fee on the subscription after PUT /v1/billing/plan, at the fee the invoice shows', async () => {
    const changed = await t.client.call('PUT', '/v1/billing/plan', {
      token: owner.accessToken,
      body: { plan: 'pro' },
    });
    expect(changed.status).toBe(200);
    await stripe.runner().runOnce();
    expect(await feeItems()).toEqual([PRO_PRICE_LOOKUP_KEY]);

    const invoice = await t.client.call('GET', '/v1/billing/invoices/upcoming', { token: owner.accessToken });
    const feeLine = invoice.json.lines.find((line: { meter: string | null }) => line.meter === null);
    const price = [...stripe.server.state.prices.values()].find((p) => p.lookup_key === PRO_PRICE_LOOKUP_KEY);
    expect(feeLine.amountUsd).toBe('199');
    expect(Number(price?.unit_amount_decimal) / 100).toBe(Number(feeLine.amountUsd));
    expect(stripe.server.state.subscriptionUpdates.map((u) => u.prorationBehavior)).toEqual(['none']);
  });

  it('follows an operator moving the org to Enterprise and back through the standing route', async () => {
    const standing = (plan: string) =>
      t.client.call('PUT', `/internal/v1/orgs/${owner.orgId}/standing`, {
        token: t.operatorToken,
        body: { plan },
      });
    expect((await standing('enterprise')).status).toBe(200);
    await stripe.runner().runOnce();
    expect(await feeItems()).toEqual([]); // Enterprise is invoiced by its contract

    expect((await standing('pro')).status).toBe(200);
    await stripe.runner().runOnce();
    expect(await feeItems()).toEqual([PRO_PRICE_LOOKUP_KEY]);
    expect(await stripe.stripeTotal(owner.orgId, 'inference_calls')).toBe(25);
  });
});
