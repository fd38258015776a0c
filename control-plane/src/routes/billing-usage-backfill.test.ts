import { billingWindow } from '@meridian/protocol';
import { eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createStripeTestbed, HOUR, type StripeTestbed, TEST_STRIPE_KEY } from '../../testing/stripe.js';
import { SUBSCRIPTION_CREATIONS } from '../../testing/stripe-refusals.js';
import { createTestApp, type Session } from '../../testing/test-app.js';
import { stripeUsageBackfills } from '../db/schema.js';
import { calendarMonth } from '../services/billing/period.js';
import { PRO_PRICE_LOOKUP_KEY } from '../services/billing/stripe/catalogue.js';
import { createStripeClient } from '../services/billing/stripe/sdk-gateway.js';
import { setOrgStanding } from '../services/orgs/standing.js';

// Stripe's API is unreachable from these machines, so the Stripe side here is the local stand-in
// (control-plane/testing/stripe-server), a fake that bills a meter event only within a subscription item's
// period, refuses a subscription on an archived price as Stripe does, and adds invoice items as
// POST /v1/invoiceitems does; reached through the real SDK, on a clock the test moves across a month's end.

const DAY = 24 * HOUR;
const INVOICE_ITEMS = { method: 'POST', path: '/v1/invoiceitems' };

describe('usage of months no Stripe subscription covered', () => {
  let t: Awaited<ReturnType<typeof createTestApp>>;
  let stripe: StripeTestbed;
  let owner: Session;
  /** The stand-in's clock: a fixed time in the month before this one, then (undefined) the real time. */
  let stripeNow: number | undefined;
  const thisMonth = calendarMonth(Date.now());
  // Month M is the previous calendar month; the org's usage there is within Stripe's 35 days of now.
  const lastMonthDay = thisMonth.start - DAY;
  const lastMonthUsage = billingWindow(thisMonth.start - 2 * DAY + 3 * HOUR);
  const lastMonth = new Date(lastMonthUsage).toLocaleString('en-US', {
    month: 'long',
    year: 'numeric',
    timeZone: 'UTC',
  });

  beforeEach(async () => {
    stripeNow = undefined;
    t = await createTestApp({ plan: 'pro' });
    stripe = await createStripeTestbed({ db: t.db, server: { clock: () => stripeNow ?? Date.now() } });
    owner = await t.client.register('owner');
  });
  afterEach(async () => {
    await stripe.cleanup();
    t.cleanup();
  });

  const stripeClient = () => createStripeClient({ secretKey: TEST_STRIPE_KEY, apiUrl: stripe.server.url });
  const setProPriceActive = async (active: boolean) => {
    const price = [...stripe.server.state.prices.values()].find((p) => p.lookup_key === PRO_PRICE_LOOKUP_KEY);
    await stripeClient().prices.update(String(price?.id), { active });
  };
  /** Invoice items Meridian added (the stand-in's prorations are not among them). */
  const addedItems = () => stripe.server.state.invoiceItems.filter((item) => item.proration === false);
  const choosePlan = async (plan: string) => {
    const res = await t.client.call('PUT', '/v1/billing/plan', { token: owner.accessToken, body: { plan } });
    expect(res.status).toBe(200);
    return res.json as { subscriptionRetried: boolean };
  };
  const choosePro = () => choosePlan('pro');
  /** Stripe ends the org's subscription at `at` and its webhook drops the org to Free; the ended one's id. */
  const endSubscriptionAt = async (at: number) => {
    const ended = await stripe.subscriptionOf(owner.orgId);
    stripeNow = at;
    Object.assign(stripe.server.state.subscriptions.get(ended) ?? {}, {
      status: 'canceled',
      ended_at: stripe.server.state.nowSeconds(),
    });
    await setOrgStanding(t.db, owner.orgId, { plan: 'free' }, { syncStripe: false });
    return ended;
  };

  it('bills the month a refused subscription left unbilled on the first invoice, once across a lost answer and restarts', async () => {
    stripeNow = lastMonthDay;
    await stripe.runner().runOnce(lastMonthDay);
    await setProPriceActive(false);
    // 1,234 calls ($1.234) and 90 s of T4 time (2 minutes, $0.04) in month M.
    await stripe.addUsage(owner.orgId, 'inference_calls', 1234, lastMonthUsage);
    await stripe.addUsage(owner.orgId, 'gpu_t4_minutes', 90, lastMonthUsage);
    await stripe.runner().runOnce(lastMonthDay);
    expect(await stripe.stripeTotal(owner.orgId, 'inference_calls')).toBe(1234);
    expect(stripe.server.state.subscriptions.size).toBe(0);

    // Month M+1: the operator restores the price and the owner asks again; the answers to the first two
    // invoice items are lost after Stripe added them.
    stripeNow = undefined;
    await setProPriceActive(true);
    await choosePro();
    stripe.server.failNext(2, 'accept_then_drop', INVOICE_ITEMS);
    await stripe.runner().runOnce(Date.now());
    const subscription = await stripe.subscriptionOf(owner.orgId);
    // A restarted runner, and another after it, find what Stripe added and add nothing more.
    await stripe.runner().runOnce(Date.now() + HOUR);
    await stripe.runner().runOnce(Date.now() + 2 * HOUR);

    const customer = await stripe.customerOf(owner.orgId);
    const items = addedItems().map((item) => ({
      amount: item.amount,
      customer: item.customer,
      subscription: item.subscription,
      description: item.description,
    }));
    expect(items.sort((a, b) => Number(a.amount) - Number(b.amount))).toEqual([
      {
        amount: 4,
        customer,
        subscription,
        description: `Tesla T4: $1.20 per hour, by the minute: 2 minutes in ${lastMonth}, before the subscription began`,
      },
      {
        amount: 123,
        customer,
        subscription,
        description: `Inference: $0.001 per call: 1,234 calls in ${lastMonth}, before the subscription began`,
      },
    ]);
    // Both lost answers were for items Stripe had added.
    const dropped = stripe.server.requests.filter(
      (r) => r.path === INVOICE_ITEMS.path && r.injected === 'accept_then_drop',
    );
    expect(dropped).toHaveLength(2);
    const rows = await t.db
      .select()
      .from(stripeUsageBackfills)
      .where(eq(stripeUsageBackfills.orgId, owner.orgId));
    expect(rows.map((r) => r.status)).toEqual(['sent', 'sent']);
    // The subscription's own first period (this month) does not bill M's meter events as well.
    expect(stripe.server.currentPeriodUsage(subscription).meridian_inference_calls).toBe(0);
  });

  it('bills a renewal the usage after the ended subscription ended, not the usage it covered', async () => {
    stripeNow = thisMonth.start - 4 * DAY;
    await stripe.addUsage(owner.orgId, 'inference_calls', 300, billingWindow(stripeNow - 3 * HOUR));
    await stripe.runner().runOnce(stripeNow);
    // Stripe ends it in month M (unpaid) and its webhook drops the org to Free; the org goes on using the platform.
    const ended = await endSubscriptionAt(thisMonth.start - 3 * DAY);
    await stripe.addUsage(owner.orgId, 'inference_calls', 700, lastMonthUsage);
    stripeNow = lastMonthDay;
    await stripe.runner().runOnce(lastMonthDay);

    // Month M+1: the owner chooses Pro again; the new subscription is backdated to the 1st of this month.
    stripeNow = undefined;
    await choosePro();
    await stripe.runner().runOnce(Date.now());
    await stripe.runner().runOnce(Date.now() + HOUR);

    const renewed = await stripe.subscriptionOf(owner.orgId);
    expect(renewed).not.toBe(ended);
    expect(addedItems().map((item) => [item.amount, item.subscription, item.description])).toEqual([
      [70, renewed, `Inference: $0.001 per call: 700 calls in ${lastMonth}, before the subscription began`],
    ]);
  });

  it('adds an item Stripe answered 500 on the next pass, under a new key, and keeps the key across a lost connection', async () => {
    stripeNow = thisMonth.start - 4 * DAY;
    await stripe.addUsage(owner.orgId, 'inference_calls', 300, billingWindow(stripeNow - 3 * HOUR));
    await stripe.runner().runOnce(stripeNow);
    await endSubscriptionAt(thisMonth.start - 3 * DAY);
    await stripe.addUsage(owner.orgId, 'inference_calls', 700, lastMonthUsage);
    stripeNow = lastMonthDay;
    await stripe.runner().runOnce(lastMonthDay);

    // Month M+1: Stripe fails the item's first request with its own 500, which it saves under the key and
    // replays for a day; the next request's connection is dropped before Stripe ran it.
    stripeNow = undefined;
    await choosePro();
    stripe.server.failNext(1, 'server_error', INVOICE_ITEMS);
    stripe.server.failNext(1, 'drop', INVOICE_ITEMS);
    for (let pass = 0; pass < 3; pass += 1) await stripe.runner().runOnce(Date.now() + pass * HOUR);

    const renewed = await stripe.subscriptionOf(owner.orgId);
    expect(addedItems().map((item) => [item.amount, item.subscription])).toEqual([[70, renewed]]);
    const sent = stripe.server.requests.filter(
      (r) => r.method === INVOICE_ITEMS.method && r.path === INVOICE_ITEMS.path,
    );
    expect(sent.map((r) => [r.injected, r.status])).toEqual([
      ['server_error', 500],
      ['drop', undefined],
      [undefined, 200],
    ]);
    const [failed, dropped, added] = sent.map((r) => r.idempotencyKey);
    expect(dropped).not.toBe(failed);
    expect(added).toBe(dropped);
    const [row] = await t.db
      .select()
      .from(stripeUsageBackfills)
      .where(eq(stripeUsageBackfills.orgId, owner.orgId));
    expect(row).toMatchObject({ status: 'sent', serverErrors: 1 });
  });

  it('sends the month’s usage that went to a customer deleted in Stripe to the new customer, once', async () => {
    // All in month M, on the stand-in's clock: billing starts, the subscription's answer is lost (dropped twice:
    // the SDK resends), and the hour's usage reaches customer A's meters.
    stripeNow = lastMonthDay;
    stripe.server.failNext(2, 'drop', SUBSCRIPTION_CREATIONS);
    await stripe.addUsage(owner.orgId, 'inference_calls', 10, billingWindow(lastMonthDay - 3 * HOUR));
    await stripe.runner().runOnce(lastMonthDay);
    const deleted = await stripe.customerOf(owner.orgId);
    expect(await stripe.stripeTotal(owner.orgId, 'inference_calls')).toBe(10);
    // An operator deletes customer A in Stripe's dashboard; the resend is refused, and the owner asks again.
    await stripeClient().customers.del(deleted);
    await stripe.runner().runOnce(lastMonthDay);
    expect((await choosePlan('pro')).subscriptionRetried).toBe(true);
    await stripe.runner().runOnce(lastMonthDay);
    // A restarted runner resends nothing more.
    await stripe.runner().runOnce(lastMonthDay + HOUR);

    const customer = await stripe.customerOf(owner.orgId);
    expect(customer).not.toBe(deleted);
    // The new customer's meters hold the month's 10 calls, which its subscription (backdated to the 1st) bills.
    expect(await stripe.stripeTotal(owner.orgId, 'inference_calls')).toBe(10);
    const subscription = await stripe.subscriptionOf(owner.orgId);
    expect(stripe.server.currentPeriodUsage(subscription).meridian_inference_calls).toBe(10);
    // Still one outbox row for the hour, now naming the new customer: the reconciliation counts it once.
    expect(
      (await stripe.outbox(owner.orgId)).map((r) => [r.identifier.endsWith(`:${customer}`), r.status]),
    ).toEqual([[true, 'sent']]);
  });

  it('adds nothing for an org whose subscription covered its usage, nor for usage from before Stripe billing began', async () => {
    // Usage from 50 days before this month, older than the push's look-back when Stripe billing began: it was
    // never handed to Stripe's meters, and is not billed by Stripe now.
    await stripe.addUsage(owner.orgId, 'inference_calls', 900, billingWindow(thisMonth.start - 50 * DAY));
    const runner = stripe.runner();
    await runner.runOnce();
    const usedAt = Math.max(thisMonth.start, billingWindow(Date.now()) - HOUR);
    await stripe.addUsage(owner.orgId, 'inference_calls', 500, usedAt);
    await runner.runOnce(Date.now() + HOUR);
    await stripe.runner().runOnce(Date.now() + 2 * HOUR);

    const subscription = await stripe.subscriptionOf(owner.orgId);
    expect(stripe.server.currentPeriodUsage(subscription).meridian_inference_calls).toBe(500);
    expect(addedItems()).toEqual([]);
    expect(await t.db.select().from(stripeUsageBackfills)).toEqual([]);
  });
});
