import { METERS } from '@meridian/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createStripeTestbed, type StripeTestbed } from '../../../../testing/stripe.js';
import { billingCustomers, stripeMeters } from '../../../db/schema.js';
import { upcomingInvoice } from '../invoice.js';
import { centsPerUnit, ensureMeters, eventNameFor } from './catalogue.js';
import { ensureCustomer } from './customers.js';

// Stripe's API is unreachable from these machines, so the Stripe side here is the local stand-in
// (control-plane/testing/stripe-server), reached through the real stripe SDK.

describe('prices in cents for Stripe', () => {
  it('turns USD per unit into cents with at most 12 decimal places, exactly', () => {
    expect(centsPerUnit('0.001')).toBe('0.1');
    expect(centsPerUnit('0.02')).toBe('2');
    expect(centsPerUnit('0.005')).toBe('0.5');
    expect(centsPerUnit('199')).toBe('19900');
    // $0.10 per GB-month in MB-hours: 1.3698630137e-7 USD, rounded half up at the 12th place of cents.
    expect(centsPerUnit('1.36986301370e-7')).toBe('0.00001369863');
    expect(centsPerUnit('0.0000000000005')).toBe('0.00000000005');
    expect(centsPerUnit('0.000000000000005')).toBe('0.000000000001');
    expect(() => centsPerUnit('1/3')).toThrow();
  });
});

describe('Stripe meters, prices and customers', () => {
  let t: StripeTestbed;
  beforeEach(async () => {
    t = await createStripeTestbed();
  });
  afterEach(() => t.cleanup());

  const creations = (path: string) => t.server.requests.filter((r) => r.method === 'POST' && r.path === path);

  it('creates one meter and one metered price per Meridian meter, and the Pro fee, once across reruns', async () => {
    const first = await ensureMeters(t.db, t.gateway);
    const again = await ensureMeters(t.db, t.gateway);
    expect(again).toEqual(first);
    expect(t.server.state.meters.size).toBe(METERS.length);
    expect(t.server.state.prices.size).toBe(METERS.length + 1);
    for (const meter of METERS) {
      const stripeMeter = t.server.state.meters.get(first.meters[meter].meterId);
      expect(stripeMeter).toMatchObject({
        event_name: `meridian_${meter}`,
        default_aggregation: { formula: 'sum' },
        customer_mapping: { event_payload_key: 'stripe_customer_id', type: 'by_id' },
      });
      const price = t.server.state.prices.get(first.meters[meter].priceId);
      expect(price).toMatchObject({
        currency: 'usd',
        lookup_key: `meridian_${meter}`,
        recurring: { interval: 'month', usage_type: 'metered', meter: first.meters[meter].meterId },
      });
    }
    expect(t.server.state.prices.get(first.meters.inference_calls.priceId)?.unit_amount_decimal).toBe('0.1');
    expect(t.server.state.prices.get(first.meters.gpu_v100_minutes.priceId)?.unit_amount_decimal).toBe('5');
    expect(t.server.state.prices.get(first.meters.storage_mb_hours.priceId)?.unit_amount_decimal).toBe(
      '0.00001369863',
    );
    expect(t.server.state.prices.get(first.proPriceId)).toMatchObject({
      unit_amount: 19900,
      recurring: { usage_type: 'licensed', meter: null },
    });
    // The second run found everything stored (meters) or by lookup key (the Pro price): nothing new was made.
    expect(creations('/v1/billing/meters')).toHaveLength(METERS.length);
    expect(creations('/v1/prices')).toHaveLength(METERS.length + 1);
  });

  it('finds what Stripe already has after losing its own rows, instead of creating it twice', async () => {
    const first = await ensureMeters(t.db, t.gateway);
    // As if the process died after Stripe created everything but before the rows were written.
    await t.db.delete(stripeMeters);
    const recovered = await ensureMeters(t.db, t.gateway);
    expect(recovered).toEqual(first);
    expect(t.server.state.meters.size).toBe(METERS.length);
    expect(t.server.state.prices.size).toBe(METERS.length + 1);
    expect((await t.db.select().from(stripeMeters)).map((r) => r.eventName).sort()).toEqual(
      METERS.map(eventNameFor).sort(),
    );
  });

  it('makes one customer per org, subscribed to every metered price and, on Pro, the base fee', async () => {
    const catalogue = await ensureMeters(t.db, t.gateway);
    const free = await t.createOrg('free', 'Free Org');
    const pro = await t.createOrg('pro', 'Pro Org');
    const freeCustomer = await ensureCustomer(t.db, t.gateway, catalogue, free);
    expect(await ensureCustomer(t.db, t.gateway, catalogue, free)).toEqual(freeCustomer);
    const proCustomer = await ensureCustomer(t.db, t.gateway, catalogue, pro);

    expect(t.server.state.customers.get(freeCustomer.stripeCustomerId)).toMatchObject({
      name: 'Free Org',
      metadata: { org_id: free },
    });
    const items = (subscriptionId: string) => {
      const subscription = t.server.state.subscriptions.get(subscriptionId);
      return (subscription?.items as { data: { price: { id: string } }[] } | undefined)?.data.map(
        (i) => i.price.id,
      );
    };
    const metered = METERS.map((m) => catalogue.meters[m].priceId);
    expect(items(freeCustomer.subscriptionId)).toEqual(metered);
    expect(items(proCustomer.subscriptionId)).toEqual([...metered, catalogue.proPriceId]);
    expect(t.server.state.customers.size).toBe(2);
    expect(t.server.state.subscriptions.size).toBe(2);
    expect(creations('/v1/customers').map((r) => r.idempotencyKey)).toEqual([
      `customer-${free}`,
      `customer-${pro}`,
    ]);
  });

  it('anchors a subscription made mid-month to the 1st of the next UTC month, backdated to the 1st of this one, not prorated', async () => {
    // Stripe's clock and the runner's agree on 17 November, 13:45 UTC.
    const now = Date.UTC(2026, 10, 17, 13, 45);
    const mid = await createStripeTestbed({ server: { clock: () => now } });
    try {
      const catalogue = await ensureMeters(mid.db, mid.gateway);
      const org = await mid.createOrg('pro');
      const customer = await ensureCustomer(mid.db, mid.gateway, catalogue, org, now);
      const [november, december] = [Date.UTC(2026, 10, 1) / 1000, Date.UTC(2026, 11, 1) / 1000];
      const subscription = mid.server.state.subscriptions.get(customer.subscriptionId);
      expect(subscription).toMatchObject({ billing_cycle_anchor: december, start_date: november });
      expect(mid.server.state.subscriptionCreations).toEqual([
        {
          subscription: customer.subscriptionId,
          billingCycleAnchor: december,
          backdateStartDate: november,
          prorationBehavior: 'none',
        },
      ]);
      // The platform charges November's full fee with November's usage; Stripe does the same on 1 December.
      expect(mid.server.state.invoiceItems).toEqual([]);
      const items = (subscription?.items as { data: { current_period_end: number }[] } | undefined)?.data;
      expect(items?.map((i) => i.current_period_end)).toEqual(Array(METERS.length + 1).fill(december));
    } finally {
      await mid.cleanup();
    }
  });

  it("bills on Stripe's first invoice the month's usage from before the subscription existed, as the platform's invoice does", async () => {
    // 17 November, 13:45 UTC on both clocks. The org used the platform on 3 November and at noon today, before
    // billing started for it; on 30 October too, which November's invoices leave out.
    const now = Date.UTC(2026, 10, 17, 13, 45);
    const mid = await createStripeTestbed({ server: { clock: () => now } });
    try {
      const org = await mid.createOrg('pro');
      await mid.addUsage(org, 'inference_calls', 40, Date.UTC(2026, 10, 3, 10, 20));
      await mid.addUsage(org, 'inference_calls', 2, Date.UTC(2026, 10, 17, 12, 10));
      await mid.addUsage(org, 'gpu_v100_minutes', 30 * 60, Date.UTC(2026, 10, 3, 11, 5)); // seconds
      await mid.addUsage(org, 'inference_calls', 500, Date.UTC(2026, 9, 30, 9));
      const pass = await mid.runner().runOnce(now);
      expect(pass).toMatchObject({ customersEnsured: 1, drain: { failed: 0 } });

      const platform = await upcomingInvoice(mid.db, org, now);
      const stripeFirstInvoice = mid.server.currentPeriodUsage(await mid.subscriptionOf(org));
      const platformUsage = Object.fromEntries(
        platform.lines.flatMap((line) => (line.meter ? [[eventNameFor(line.meter), line.quantity]] : [])),
      );
      expect(platformUsage).toMatchObject({ meridian_inference_calls: 42, meridian_gpu_v100_minutes: 30 });
      expect(stripeFirstInvoice).toEqual(platformUsage);
    } finally {
      await mid.cleanup();
    }
  });

  it('resumes a customer cut short between Stripe creating it and the row being written', async () => {
    const catalogue = await ensureMeters(t.db, t.gateway);
    const org = await t.createOrg();
    // A previous process created the customer with the org's Idempotency-Key, then died.
    const orphan = await t.gateway.createCustomer({ orgId: org, name: 'Acme' }, `customer-${org}`);
    const customer = await ensureCustomer(t.db, t.gateway, catalogue, org);
    expect(customer.stripeCustomerId).toBe(orphan);
    expect(t.server.state.customers.size).toBe(1);
    expect(await t.db.select().from(billingCustomers)).toEqual([
      expect.objectContaining({
        orgId: org,
        stripeCustomerId: orphan,
        subscriptionId: customer.subscriptionId,
      }),
    ]);
  });

  it('creates customers through the runner only for orgs whose usage is waiting, once across restarts', async () => {
    const busy = await t.createOrg();
    const idle = await t.createOrg();
    await t.addUsage(busy, 'inference_calls', 3, Date.now() - 2 * 3_600_000);
    for (let i = 0; i < 3; i += 1) expect((await t.runner().runOnce()).leader).toBe(true);
    expect([...t.server.state.customers.values()].map((c) => c.metadata)).toEqual([{ org_id: busy }]);
    expect(t.server.state.subscriptions.size).toBe(1);
    expect(t.server.state.meters.size).toBe(METERS.length);
    expect(await t.db.select().from(billingCustomers)).toHaveLength(1);
    expect(idle).not.toBe(busy);
  });
});
