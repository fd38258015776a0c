import { eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createStripeTestbed, type StripeTestbed } from '../../../../testing/stripe.js';
import { billingCustomers } from '../../../db/schema.js';
import { ensureMeters, type StripeCatalogue } from './catalogue.js';
import { ensureCustomer } from './customers.js';

// Stripe's API is unreachable from these machines, so the Stripe side here is the local stand-in
// (control-plane/testing/stripe-server), a fake that keeps Idempotency-Keys as Stripe does (a key reused with
// other parameters is refused; a request refused by validation saves nothing), reached through the real SDK.

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

  it('retries after midnight with the request sent before it and gets back the one subscription Stripe made', async () => {
    // Both the request and the SDK's one resend of it (replayed by Stripe) lose their answers.
    t.server.failNext(2, 'accept_then_drop', SUBSCRIPTIONS);
    await expect(ensureCustomer(t.db, t.gateway, catalogue, org, now)).rejects.toThrow();
    expect(t.server.state.subscriptions.size).toBe(1);

    now = Date.UTC(2026, 11, 1, 0, 0, 5);
    const customer = await ensureCustomer(t.db, t.gateway, catalogue, org, now);

    expect(t.server.state.subscriptions.size).toBe(1);
    expect(t.server.state.subscriptions.has(customer.subscriptionId)).toBe(true);
    // November's anchor and start, as first sent; Stripe replayed its answer instead of refusing the key.
    expect(t.server.state.subscriptionCreations).toEqual([
      {
        subscription: customer.subscriptionId,
        billingCycleAnchor: seconds(Date.UTC(2026, 11, 1)),
        backdateStartDate: seconds(Date.UTC(2026, 10, 1)),
        prorationBehavior: 'none',
      },
    ]);
    const [first, , retry] = creations();
    expect(retry?.idempotencyKey).toBe(first?.idempotencyKey);
    expect(retry?.params).toEqual(first?.params);
    expect(retry).toMatchObject({ status: 200, replayed: true });
    expect(await pending()).toBeNull();
    expect(await t.subscriptionOf(org)).toBe(customer.subscriptionId);
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
