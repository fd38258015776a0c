import { eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createStripeTestbed,
  hourAgo,
  type StripeTestbed,
  TEST_STRIPE_KEY,
} from '../../../../testing/stripe.js';
import { billingCustomers, stripePlanChanges } from '../../../db/schema.js';
import { setOrgStanding } from '../../orgs/standing.js';
import { ensureMeters, PRO_PRICE_LOOKUP_KEY, type StripeCatalogue } from './catalogue.js';
import { ensureCustomer } from './customers.js';
import type { NewSubscription } from './gateway.js';
import { createStripeClient } from './sdk-gateway.js';

// Stripe's API is unreachable from these machines, so the Stripe side here is the local stand-in
// (control-plane/testing/stripe-server), a fake that keeps Idempotency-Keys as Stripe does (a key reused with
// other parameters is refused; a request refused by validation saves nothing; a key is pruned once 24 hours
// old) and lists a customer's subscriptions with their metadata as Stripe's list does, reached through the real
// SDK.

const SUBSCRIPTIONS = { path: '/v1/subscriptions' };
const seconds = (ms: number) => ms / 1000;

describe('creating a subscription whose answer was lost over a month end', () => {
  // One clock for Stripe and the runner, moved across midnight UTC between 30 November and 1 December.
  let now = Date.UTC(2026, 10, 30, 23, 59, 58);
  let t: StripeTestbed;
  let catalogue: StripeCatalogue;
  let org: string;
  beforeEach(async () => {
    now = Date.UTC(2026, 10, 30, 23, 59, 58);
    t = await createStripeTestbed({ server: { clock: () => now } });
    catalogue = await ensureMeters(t.db, t.gateway);
    org = await t.createOrg('pro');
  });
  afterEach(() => t.cleanup());

  const creations = () =>
    t.server.requests.filter((r) => r.method === 'POST' && r.path === SUBSCRIPTIONS.path);
  const pending = async () =>
    (await t.db.select().from(billingCustomers).where(eq(billingCustomers.orgId, org)))[0]
      ?.pendingSubscription;

  it('retries after midnight and gets back the one subscription Stripe made with the request sent before it', async () => {
    // Both the request and the SDK's one resend of it (replayed by Stripe) lose their answers.
    t.server.failNext(2, 'accept_then_drop', SUBSCRIPTIONS);
    await expect(ensureCustomer(t.db, t.gateway, catalogue, org, now)).rejects.toThrow();
    expect(t.server.state.subscriptions.size).toBe(1);

    now = Date.UTC(2026, 11, 1, 0, 0, 5);
    const customer = await ensureCustomer(t.db, t.gateway, catalogue, org, now);

    expect(t.server.state.subscriptions.size).toBe(1);
    expect(t.server.state.subscriptions.has(customer.subscriptionId)).toBe(true);
    // November's anchor and start, as first sent.
    expect(t.server.state.subscriptionCreations).toEqual([
      {
        subscription: customer.subscriptionId,
        billingCycleAnchor: seconds(Date.UTC(2026, 11, 1)),
        backdateStartDate: seconds(Date.UTC(2026, 10, 1)),
        prorationBehavior: 'none',
      },
    ]);
    // The retry found it among the customer's subscriptions and sent no creation again.
    expect(creations()).toHaveLength(2);
    expect(t.server.requests.at(-1)).toMatchObject({
      method: 'GET',
      path: SUBSCRIPTIONS.path,
      query: { customer: customer.stripeCustomerId, status: 'all' },
    });
    expect(await pending()).toBeNull();
    expect(await t.subscriptionOf(org)).toBe(customer.subscriptionId);
  });

  it('sends the same request under a new key after Stripe answered it 500, rather than meet the saved 500 for a day', async () => {
    t.server.failNext(1, 'server_error', SUBSCRIPTIONS);
    await expect(ensureCustomer(t.db, t.gateway, catalogue, org, now)).rejects.toThrow(/500/);

    // A second later, still before the month's end (the anchor it was sent with is still ahead).
    now += 1_000;
    const customer = await ensureCustomer(t.db, t.gateway, catalogue, org, now);

    expect(t.server.state.subscriptions.size).toBe(1);
    const [failed, made] = creations();
    expect([failed?.status, made?.status]).toEqual([500, 200]);
    expect(failed?.idempotencyKey).toBe(`subscription-${org}`);
    expect(made?.idempotencyKey).toBe(`subscription-${org}-after-server-error-1`);
    // The stored request, unchanged: the anchor of the month it was first sent in, and its creation key.
    expect(made?.params).toEqual(failed?.params);
    expect(t.server.state.subscriptions.has(customer.subscriptionId)).toBe(true);
    expect(await pending()).toBeNull();
  });

  it('computes the request again once Stripe, which never received it, refuses its anchor as past', async () => {
    // Neither the request nor the SDK's one resend of it reaches Stripe.
    t.server.failNext(2, 'drop', SUBSCRIPTIONS);
    await expect(ensureCustomer(t.db, t.gateway, catalogue, org, now)).rejects.toThrow();
    expect(t.server.state.subscriptions.size).toBe(0);

    now = Date.UTC(2026, 11, 1, 0, 0, 5);
    // The stored request goes out as it was; Stripe refuses November's anchor and saves nothing under the key.
    await expect(ensureCustomer(t.db, t.gateway, catalogue, org, now)).rejects.toThrow(
      /billing_cycle_anchor|past/,
    );
    expect(await pending()).toBeNull();
    const customer = await ensureCustomer(t.db, t.gateway, catalogue, org, now + 60_000);

    expect(t.server.state.subscriptions.size).toBe(1);
    expect(t.server.state.subscriptionCreations).toEqual([
      {
        subscription: customer.subscriptionId,
        billingCycleAnchor: seconds(Date.UTC(2027, 0, 1)),
        backdateStartDate: seconds(Date.UTC(2026, 11, 1)),
        prorationBehavior: 'none',
      },
    ]);
    expect(new Set(creations().map((r) => r.idempotencyKey))).toEqual(new Set([`subscription-${org}`]));
  });
});

describe('a creation retried after Stripe pruned its Idempotency-Key', () => {
  // Stripe prunes a key once it is 24 hours old; the stand-in does too, on this clock.
  let now = Date.UTC(2026, 10, 10, 12);
  let t: StripeTestbed;
  let catalogue: StripeCatalogue;
  let org: string;
  beforeEach(async () => {
    now = Date.UTC(2026, 10, 10, 12);
    t = await createStripeTestbed({ server: { clock: () => now } });
    catalogue = await ensureMeters(t.db, t.gateway);
    org = await t.createOrg('pro');
  });
  afterEach(() => t.cleanup());

  const creations = () =>
    t.server.requests.filter((r) => r.method === 'POST' && r.path === SUBSCRIPTIONS.path);

  it('adopts the subscription Stripe made when the answer was lost a day and more before, and makes no second', async () => {
    t.server.failNext(2, 'accept_then_drop', SUBSCRIPTIONS);
    await expect(ensureCustomer(t.db, t.gateway, catalogue, org, now)).rejects.toThrow();
    const [made] = t.server.state.subscriptions.keys();

    // The runner was down for a day and a bit; the key is gone from Stripe, the stored anchor still ahead.
    now += 25 * 3_600_000;
    const sent = creations().length;
    const customer = await ensureCustomer(t.db, t.gateway, catalogue, org, now);

    expect(customer.subscriptionId).toBe(made);
    expect(t.server.state.subscriptions.size).toBe(1);
    expect(creations().length).toBe(sent);
    expect(await t.subscriptionOf(org)).toBe(made);
    expect(t.server.state.subscriptions.get(customer.subscriptionId)?.metadata).toEqual({
      org_id: org,
      creation_key: `subscription-${org}`,
    });
  });

  it('sends the stored request again a day later when Stripe never received it', async () => {
    t.server.failNext(2, 'drop', SUBSCRIPTIONS);
    await expect(ensureCustomer(t.db, t.gateway, catalogue, org, now)).rejects.toThrow();
    expect(t.server.state.subscriptions.size).toBe(0);

    now += 25 * 3_600_000;
    const customer = await ensureCustomer(t.db, t.gateway, catalogue, org, now);
    expect(t.server.state.subscriptions.size).toBe(1);
    // The request first sent, before the outage: November's anchor, the start of November.
    expect(t.server.state.subscriptionCreations).toEqual([
      {
        subscription: customer.subscriptionId,
        billingCycleAnchor: seconds(Date.UTC(2026, 11, 1)),
        backdateStartDate: seconds(Date.UTC(2026, 10, 1)),
        prorationBehavior: 'none',
      },
    ]);
  });
});

describe('a creation whose answer was lost, the org leaving Pro before the retry', () => {
  let t: StripeTestbed;
  let org: string;
  beforeEach(async () => {
    t = await createStripeTestbed();
    org = await t.createOrg('pro');
    await t.addUsage(org, 'cpu_minutes', 120, hourAgo(2));
  });
  afterEach(() => t.cleanup());

  const feesOf = (subscription: string | undefined) => {
    const items = t.server.state.subscriptions.get(subscription ?? '')?.items as
      | { data: { price: { lookup_key: string | null } }[] }
      | undefined;
    return (items?.data ?? []).flatMap((item) =>
      item.price.lookup_key === PRO_PRICE_LOOKUP_KEY ? [item.price.lookup_key] : [],
    );
  };
  const planChanges = () => t.db.select().from(stripePlanChanges).where(eq(stripePlanChanges.orgId, org));

  it('records the first subscription Stripe made and takes its fee off, though no usage waits any more', async () => {
    t.server.failNext(2, 'accept_then_drop', SUBSCRIPTIONS);
    const first = await t.runner().runOnce();
    // The customer exists, so the usage reached Stripe; the subscription Stripe made has the Pro fee.
    expect(first.drain).toMatchObject({ sent: 1 });
    const [made] = t.server.state.subscriptions.keys();
    expect(feesOf(made)).toEqual([PRO_PRICE_LOOKUP_KEY]);

    await setOrgStanding(t.db, org, { plan: 'free' });
    await t.runner().runOnce();

    expect(await t.subscriptionOf(org)).toBe(made);
    expect(t.server.state.subscriptions.size).toBe(1);
    expect(feesOf(made)).toEqual([]);
    expect(await planChanges()).toMatchObject([{ status: 'applied' }]);
  });

  it('records the renewal Stripe made and takes its fee off, rather than leave it charging unseen', async () => {
    await t.runner().runOnce();
    // Stripe ended the subscription and its webhook dropped the org to Free; the owner then chose Pro again.
    const ended = await t.subscriptionOf(org);
    const old = t.server.state.subscriptions.get(ended);
    if (old) Object.assign(old, { status: 'canceled', ended_at: Math.floor(Date.now() / 1000) - 60 });
    await setOrgStanding(t.db, org, { plan: 'free' }, { syncStripe: false });
    await setOrgStanding(t.db, org, { plan: 'pro' });
    t.server.failNext(2, 'accept_then_drop', SUBSCRIPTIONS);
    const lost = await t.runner().runOnce();
    expect(lost.planChanges).toMatchObject({ failed: 1 });
    const renewed = [...t.server.state.subscriptions.keys()].find((id) => id !== ended);
    expect(feesOf(renewed)).toEqual([PRO_PRICE_LOOKUP_KEY]);

    // The owner leaves Pro before the retry.
    await setOrgStanding(t.db, org, { plan: 'free' });
    await t.runner().runOnce(Date.now() + 60_000);

    expect(await t.subscriptionOf(org)).toBe(renewed);
    expect(t.server.state.subscriptions.size).toBe(2);
    expect(feesOf(renewed)).toEqual([]);
    expect((await planChanges()).map((c) => c.status)).toEqual(['applied', 'applied']);
    const [row] = await t.db.select().from(billingCustomers).where(eq(billingCustomers.orgId, org));
    expect(row?.pendingSubscription).toBeNull();
  });
});

describe('a creation stored before subscriptions carried their key, its answer lost', () => {
  let now = Date.UTC(2026, 10, 10, 12);
  let t: StripeTestbed;
  let catalogue: StripeCatalogue;
  let org: string;
  beforeEach(async () => {
    now = Date.UTC(2026, 10, 10, 12);
    t = await createStripeTestbed({ server: { clock: () => now } });
    catalogue = await ensureMeters(t.db, t.gateway);
    org = await t.createOrg('pro');
  });
  afterEach(() => t.cleanup());

  it('gets back the subscription Stripe made, rather than refusing the key and making a second a day later', async () => {
    // The stored request and its key, as the code before creation_key stored them (no creationKey in it).
    t.server.failNext(2, 'drop', SUBSCRIPTIONS);
    await expect(ensureCustomer(t.db, t.gateway, catalogue, org, now)).rejects.toThrow();
    const [row] = await t.db.select().from(billingCustomers).where(eq(billingCustomers.orgId, org));
    const stored = JSON.parse(row?.pendingSubscription ?? '{}') as {
      key: string;
      request: NewSubscription & { creationKey?: string };
    };
    delete stored.request.creationKey;
    await t.db
      .update(billingCustomers)
      .set({ pendingSubscription: JSON.stringify(stored) })
      .where(eq(billingCustomers.orgId, org));
    // That code sent it with no creation_key in the metadata; Stripe made the subscription, the answer was lost.
    const { request } = stored;
    const stripe = createStripeClient({ secretKey: TEST_STRIPE_KEY, apiUrl: t.server.url });
    const made = await stripe.subscriptions.create(
      {
        customer: request.customerId,
        items: request.priceIds.map((price) => ({ price })),
        metadata: { org_id: request.orgId },
        billing_cycle_anchor: request.billingCycleAnchor,
        ...(request.backdateStartDate === undefined
          ? {}
          : { backdate_start_date: request.backdateStartDate }),
        proration_behavior: request.prorationBehavior,
        payment_behavior: 'default_incomplete',
      },
      { idempotencyKey: stored.key },
    );

    // The new code retries within Stripe's 24 hours: the request must go out exactly as first sent.
    now += 3_600_000;
    const customer = await ensureCustomer(t.db, t.gateway, catalogue, org, now);

    expect(customer.subscriptionId).toBe(made.id);
    expect(t.server.state.subscriptions.size).toBe(1);
    expect(await t.subscriptionOf(org)).toBe(made.id);
  });
});
