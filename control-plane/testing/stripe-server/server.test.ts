import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StripeTestServer, startStripeServer } from './server.js';
import { addMonth } from './subscriptions.js';

// The Stripe API is unreachable from these machines and stripe-mock cannot be installed, so this local
// server stands in for it. These tests drive it with the real `stripe` SDK to show it speaks Stripe's format.

const KEY = 'sk_test_standin_0123456789abcdef';

describe('the local Stripe stand-in, driven by the real stripe SDK', () => {
  let server: StripeTestServer;
  let stripe: Stripe;
  const now = () => Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    server = await startStripeServer({ apiKey: KEY });
    stripe = new Stripe(KEY, {
      host: server.host,
      port: server.port,
      protocol: 'http',
      maxNetworkRetries: 0,
      timeout: 2000,
    });
  });
  afterAll(() => server.close());

  const meterAndCustomer = async (eventName: string) => {
    const meter = await stripe.billing.meters.create({
      display_name: eventName,
      event_name: eventName,
      default_aggregation: { formula: 'sum' },
      customer_mapping: { type: 'by_id', event_payload_key: 'stripe_customer_id' },
    });
    const customer = await stripe.customers.create({ name: 'Acme', metadata: { org_id: 'org_1' } });
    return { meter, customer };
  };

  it('updates subscription items as Stripe does: swap keeps the item, prorations unless none, no duplicate prices', async () => {
    const { meter, customer } = await meterAndCustomer('calls_sub');
    const metered = await stripe.prices.create({
      currency: 'usd',
      unit_amount_decimal: Stripe.Decimal.from('0.1'),
      recurring: { interval: 'month', usage_type: 'metered', meter: meter.id },
      product_data: { name: 'Calls' },
    });
    const fee = (amount: number) =>
      stripe.prices.create({
        currency: 'usd',
        unit_amount: amount,
        recurring: { interval: 'month' },
        product_data: { name: 'Plan' },
      });
    const [small, large] = [await fee(1000), await fee(3000)];
    const subscription = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: metered.id }, { price: small.id }],
    });
    const [meteredItem, feeItem] = subscription.items.data;

    const swapped = await stripe.subscriptions.update(subscription.id, {
      items: [{ id: feeItem?.id, price: large.id }],
      proration_behavior: 'none',
    });
    expect(swapped.items.data.map((i) => [i.id, i.price.id])).toEqual([
      [meteredItem?.id, metered.id],
      [feeItem?.id, large.id],
    ]);
    expect(server.state.invoiceItems).toEqual([]);

    // Stripe's default prorates: a credit for the old price's unused time, a charge for the new one's.
    await stripe.subscriptions.update(subscription.id, { items: [{ id: feeItem?.id, price: small.id }] });
    expect(server.state.invoiceItems.map((i) => Math.sign(Number(i.amount)))).toEqual([-1, 1]);

    await expect(
      stripe.subscriptions.update(subscription.id, { items: [{ price: metered.id }] }),
    ).rejects.toThrow(/multiple subscription items with the same price/);
    await expect(
      stripe.subscriptions.update(subscription.id, { items: [{ id: 'si_missing', deleted: true }] }),
    ).rejects.toThrow(/No such subscription item/);
    await stripe.subscriptions.update(subscription.id, {
      items: [{ id: feeItem?.id, deleted: true, clear_usage: false }],
      proration_behavior: 'none',
    });
    const left = [];
    for await (const item of stripe.subscriptionItems.list({ subscription: subscription.id }))
      left.push(item.id);
    expect(left).toEqual([meteredItem?.id]);
    expect(server.state.deletedItems).toMatchObject([{ clearUsage: false, subscription: subscription.id }]);
  });

  it('creates a meter, a metered price, a customer and a subscription with Stripe-shaped objects', async () => {
    const { meter, customer } = await meterAndCustomer('calls_a');
    expect(meter).toMatchObject({ object: 'billing.meter', event_name: 'calls_a', status: 'active' });
    expect(meter.id).toMatch(/^mtr_/);
    const price = await stripe.prices.create({
      currency: 'usd',
      unit_amount_decimal: Stripe.Decimal.from('0.1'),
      recurring: { interval: 'month', usage_type: 'metered', meter: meter.id },
      product_data: { name: 'Calls' },
      lookup_key: 'calls_a',
    });
    expect(price).toMatchObject({ object: 'price', type: 'recurring', lookup_key: 'calls_a' });
    expect(price.recurring).toMatchObject({ meter: meter.id, usage_type: 'metered' });
    expect(customer.metadata).toEqual({ org_id: 'org_1' });
    const subscription = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
    });
    expect(subscription.items.data.map((i) => i.price.id)).toEqual([price.id]);
    const found = await stripe.prices.list({ lookup_keys: ['calls_a'] });
    expect(found.data.map((p) => p.id)).toEqual([price.id]);
    const meters = [];
    for await (const m of stripe.billing.meters.list({ limit: 1 })) meters.push(m.id);
    expect(meters).toContain(meter.id);
  });

  it('counts a meter event once: a repeated identifier is rejected with Stripe-Should-Retry false', async () => {
    const { meter, customer } = await meterAndCustomer('calls_b');
    const event = {
      event_name: 'calls_b',
      payload: { stripe_customer_id: customer.id, value: '7' },
      identifier: 'b-1',
      timestamp: now() - 60,
    };
    expect(await stripe.billing.meterEvents.create(event)).toMatchObject({
      identifier: 'b-1',
      event_name: 'calls_b',
    });
    const repeat = await stripe.billing.meterEvents.create(event).catch((e: unknown) => e);
    expect(repeat).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(repeat).toMatchObject({
      statusCode: 400,
      message: 'An event already exists with identifier b-1.',
    });
    expect((repeat as Stripe.errors.StripeError).headers?.['stripe-should-retry']).toBe('false');
    const start = Math.floor((now() - 3600) / 60) * 60;
    const summaries = await stripe.billing.meters.listEventSummaries(meter.id, {
      customer: customer.id,
      start_time: start,
      end_time: start + 7200,
    });
    expect(summaries.data.map((s) => s.aggregated_value)).toEqual([7]);
    expect(server.meterTotal('calls_b', customer.id)).toBe(7);
  });

  it('rejects timestamps older than 35 days or in the future, unknown params and unaligned summary ranges', async () => {
    const { meter, customer } = await meterAndCustomer('calls_c');
    const payload = { stripe_customer_id: customer.id, value: '1' };
    for (const timestamp of [now() - 36 * 86400, now() + 600]) {
      const error = await stripe.billing.meterEvents
        .create({ event_name: 'calls_c', payload, timestamp })
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ statusCode: 400, param: 'timestamp' });
    }
    const unknown = await stripe.customers
      .create({ nmae: 'typo' } as Stripe.CustomerCreateParams)
      .catch((e) => e);
    expect(unknown).toMatchObject({ statusCode: 400, code: 'parameter_unknown', param: 'nmae' });
    const unaligned = await stripe.billing.meters
      .listEventSummaries(meter.id, { customer: customer.id, start_time: 61, end_time: 7200 })
      .catch((e: unknown) => e);
    expect(unaligned).toMatchObject({ statusCode: 400, param: 'start_time' });
  });

  it('replays a POST with the same Idempotency-Key and refuses the key with other parameters', async () => {
    const first = await stripe.customers.create({ name: 'Once' }, { idempotencyKey: 'customer-once' });
    const again = await stripe.customers.create({ name: 'Once' }, { idempotencyKey: 'customer-once' });
    expect(again.id).toBe(first.id);
    expect(server.requests.at(-1)).toMatchObject({ replayed: true, status: 200 });
    const other = await stripe.customers
      .create({ name: 'Other' }, { idempotencyKey: 'customer-once' })
      .catch((e) => e);
    expect(other).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
  });

  it('checks the secret key in the Authorization header', async () => {
    const wrong = new Stripe('sk_test_wrong_key_000000', {
      host: server.host,
      port: server.port,
      protocol: 'http',
    });
    const error = await wrong.customers.create({ name: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    expect(error).toMatchObject({ statusCode: 401 });
  });

  it('fails on demand: 429 rate_limit with Retry-After, 500, a hang the SDK times out on', async () => {
    const { customer } = await meterAndCustomer('calls_d');
    const event = (identifier: string) => ({
      event_name: 'calls_d',
      payload: { stripe_customer_id: customer.id, value: '1' },
      identifier,
    });
    server.failNext(1, 'rate_limit', { retryAfterSeconds: 2 });
    const limited = await stripe.billing.meterEvents.create(event('d-1')).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    expect(limited).toMatchObject({ statusCode: 429, code: 'rate_limit' });
    expect((limited as Stripe.errors.StripeError).headers).toMatchObject({
      'retry-after': '2',
      'stripe-should-retry': 'true',
    });
    server.failNext(1, 'server_error');
    expect(await stripe.billing.meterEvents.create(event('d-1')).catch((e) => e)).toBeInstanceOf(
      Stripe.errors.StripeAPIError,
    );
    server.failNext(1, 'hang');
    const hung = await stripe.billing.meterEvents
      .create(event('d-1'), { timeout: 200 })
      .catch((e: unknown) => e);
    expect(hung).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    expect(server.meterTotal('calls_d', customer.id)).toBe(0);
    await stripe.billing.meterEvents.create(event('d-1'));
    expect(server.meterTotal('calls_d', customer.id)).toBe(1);
  });

  it('answers 429 lock_timeout to a second concurrent meter event for the same customer and meter', async () => {
    const { customer } = await meterAndCustomer('calls_e');
    const other = await stripe.customers.create({ name: 'Other' });
    server.setLatency(100);
    try {
      const send = (customerId: string, identifier: string) =>
        stripe.billing.meterEvents
          .create({
            event_name: 'calls_e',
            payload: { stripe_customer_id: customerId, value: '1' },
            identifier,
          })
          .then(
            () => 'ok',
            (e: Stripe.errors.StripeError) => e.code,
          );
      const results = await Promise.all([
        send(customer.id, 'e-1'),
        send(customer.id, 'e-2'),
        send(other.id, 'e-3'),
      ]);
      expect(results.sort()).toEqual(['lock_timeout', 'ok', 'ok']);
      expect(server.concurrencyViolations).toEqual([
        { lockKey: `${customer.id}|calls_e`, requestId: expect.stringMatching(/^req_/) },
      ]);
    } finally {
      server.setLatency(0);
      server.concurrencyViolations.length = 0;
    }
  });

  it('takes billing_cycle_anchor as Stripe does: in the future, at most a month ahead, the first period prorated unless none', async () => {
    const { customer } = await meterAndCustomer('calls_anchor');
    const fee = await stripe.prices.create({
      currency: 'usd',
      unit_amount: 3000,
      recurring: { interval: 'month' },
      product_data: { name: 'Plan' },
    });
    const create = (params: Partial<Stripe.SubscriptionCreateParams>) =>
      stripe.subscriptions.create({ customer: customer.id, items: [{ price: fee.id }], ...params });
    const refusal = (params: Partial<Stripe.SubscriptionCreateParams>) =>
      create(params).then(
        () => 'accepted',
        (e: Stripe.errors.StripeError) => [e.statusCode, e.param, e.message],
      );
    const natural = (() => {
      const at = new Date(now() * 1000);
      return Math.floor(at.setUTCMonth(at.getUTCMonth() + 1) / 1000);
    })();
    expect(await refusal({ billing_cycle_anchor: now() - 60 })).toEqual([
      400,
      'billing_cycle_anchor',
      expect.stringMatching(/in the past/),
    ]);
    expect(await refusal({ billing_cycle_anchor: natural + 3600 })).toEqual([
      400,
      'billing_cycle_anchor',
      expect.stringMatching(/cannot be later than next natural billing date/),
    ]);
    const before = server.state.invoiceItems.length;

    const anchor = now() + 10 * 86_400;
    const none = await create({ billing_cycle_anchor: anchor, proration_behavior: 'none' });
    expect(none.billing_cycle_anchor).toBe(anchor);
    expect(none.items.data[0]).toMatchObject({ current_period_end: anchor });
    expect(server.state.invoiceItems.length).toBe(before);

    const prorated = await create({ billing_cycle_anchor: anchor, proration_behavior: 'create_prorations' });
    expect(server.state.subscriptionCreations.slice(-2)).toEqual([
      { subscription: none.id, billingCycleAnchor: anchor, prorationBehavior: 'none' },
      { subscription: prorated.id, billingCycleAnchor: anchor, prorationBehavior: 'create_prorations' },
    ]);
    // Ten days of a month of 28 to 31 days: a third or so of the fee, charged for the period up to the anchor.
    const [charge] = server.state.invoiceItems.slice(before);
    expect(charge).toMatchObject({ subscription: prorated.id, price: fee.id, proration: true });
    expect(Number(charge?.amount)).toBeGreaterThan(900);
    expect(Number(charge?.amount)).toBeLessThan(1100);
  });
  it('takes backdate_start_date as Stripe does: in the past, the anchor at most a month after it, its usage billed at the anchor', async () => {
    const { meter, customer } = await meterAndCustomer('calls_backdate');
    const metered = await stripe.prices.create({
      currency: 'usd',
      unit_amount_decimal: Stripe.Decimal.from('0.1'),
      recurring: { interval: 'month', usage_type: 'metered', meter: meter.id },
      product_data: { name: 'Calls' },
    });
    const fee = await stripe.prices.create({
      currency: 'usd',
      unit_amount: 3000,
      recurring: { interval: 'month' },
      product_data: { name: 'Plan' },
    });
    const create = (params: Partial<Stripe.SubscriptionCreateParams>) =>
      stripe.subscriptions.create({
        customer: customer.id,
        items: [{ price: metered.id }, { price: fee.id }],
        ...params,
      });
    const refusal = (params: Partial<Stripe.SubscriptionCreateParams>) =>
      create(params).then(
        () => 'accepted',
        (e: Stripe.errors.StripeError) => [e.statusCode, e.param, e.message],
      );
    const start = now() - 10 * 86_400;
    const natural = addMonth(start);
    expect(await refusal({ backdate_start_date: now() + 60, billing_cycle_anchor: now() + 86_400 })).toEqual([
      400,
      'backdate_start_date',
      expect.stringMatching(/in the past/),
    ]);
    // The next natural billing date runs from the backdated start, not from now.
    expect(await refusal({ backdate_start_date: start, billing_cycle_anchor: natural + 3600 })).toEqual([
      400,
      'billing_cycle_anchor',
      expect.stringMatching(/cannot be later than next natural billing date/),
    ]);
    // Usage reported before the subscription exists: an hour before the backdated start, an hour after it, now.
    for (const [offset, value] of [
      [start - 3600, 5],
      [start + 3600, 7],
      [now() - 60, 11],
    ] as const) {
      await stripe.billing.meterEvents.create({
        event_name: 'calls_backdate',
        payload: { stripe_customer_id: customer.id, value: String(value) },
        timestamp: offset,
      });
    }
    const before = server.state.invoiceItems.length;

    const none = await create({
      backdate_start_date: start,
      billing_cycle_anchor: natural,
      proration_behavior: 'none',
    });
    expect(none).toMatchObject({ start_date: start, billing_cycle_anchor: natural });
    expect(none.items.data.map((item) => [item.current_period_start, item.current_period_end])).toEqual([
      [start, natural],
      [start, natural],
    ]);
    // The invoice at the anchor bills what was stamped since the backdated start, not what came before it.
    expect(server.currentPeriodUsage(none.id)).toEqual({ calls_backdate: 18 });
    expect(server.state.invoiceItems.length).toBe(before);
    expect(server.state.subscriptionCreations.at(-1)).toEqual({
      subscription: none.id,
      billingCycleAnchor: natural,
      backdateStartDate: start,
      prorationBehavior: 'none',
    });

    // Prorated, the backdated start to the anchor is a whole (imagined) month from the start: the full fee.
    const prorated = await create({
      backdate_start_date: start,
      billing_cycle_anchor: natural,
      proration_behavior: 'create_prorations',
    });
    expect(server.state.invoiceItems.slice(before)).toMatchObject([
      { subscription: prorated.id, price: fee.id, amount: 3000, proration: true },
    ]);
  });

  it("adds invoice items to a customer's subscription, lists them by customer, and refuses another customer's subscription", async () => {
    const { meter, customer } = await meterAndCustomer('calls_items');
    const other = await stripe.customers.create({ name: 'Other' });
    const price = await stripe.prices.create({
      currency: 'usd',
      unit_amount_decimal: Stripe.Decimal.from('0.1'),
      recurring: { interval: 'month', usage_type: 'metered', meter: meter.id },
      product_data: { name: 'Calls' },
    });
    const subscription = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
    });
    const item = await stripe.invoiceItems.create({
      customer: customer.id,
      subscription: subscription.id,
      amount: 123,
      currency: 'usd',
      description: 'Calls in November',
      period: { start: now() - 3600, end: now() },
      metadata: { backfill_key: 'k1' },
    });
    expect(item).toMatchObject({ object: 'invoiceitem', amount: 123, subscription: subscription.id });
    const listed = await stripe.invoiceItems.list({ customer: customer.id });
    expect(listed.data.map((i) => [i.id, i.metadata?.backfill_key])).toEqual([[item.id, 'k1']]);
    expect((await stripe.invoiceItems.list({ customer: other.id })).data).toEqual([]);
    await expect(
      stripe.invoiceItems.create({
        customer: other.id,
        subscription: subscription.id,
        amount: 1,
        currency: 'usd',
      }),
    ).rejects.toMatchObject({ statusCode: 400, param: 'subscription' });
  });
});

describe('the stand-in keeps keys for 24 hours and lists subscriptions by customer, as Stripe documents', () => {
  let server: StripeTestServer;
  let stripe: Stripe;
  let clock = Date.UTC(2026, 10, 10, 12);
  beforeAll(async () => {
    server = await startStripeServer({ apiKey: KEY, clock: () => clock });
    stripe = new Stripe(KEY, {
      host: server.host,
      port: server.port,
      protocol: 'http',
      maxNetworkRetries: 0,
      timeout: 2000,
    });
  });
  afterAll(() => server.close());

  it('prunes an Idempotency-Key once it is 24 hours old: the same request then makes a second object', async () => {
    const first = await stripe.customers.create({ name: 'Kept' }, { idempotencyKey: 'customer-kept' });
    clock += 24 * 3_600_000 - 1;
    const replayed = await stripe.customers.create({ name: 'Kept' }, { idempotencyKey: 'customer-kept' });
    expect(replayed.id).toBe(first.id);
    expect(server.requests.at(-1)).toMatchObject({ replayed: true });

    clock += 1;
    const anew = await stripe.customers.create({ name: 'Kept' }, { idempotencyKey: 'customer-kept' });
    expect(anew.id).not.toBe(first.id);
    expect(server.requests.at(-1)).toMatchObject({ replayed: false, status: 200 });
  });

  it("lists a customer's subscriptions newest first with their metadata, the canceled ones only when asked", async () => {
    const price = await stripe.prices.create({
      currency: 'usd',
      unit_amount: 1000,
      recurring: { interval: 'month' },
      product_data: { name: 'Plan' },
    });
    const [mine, theirs] = [
      await stripe.customers.create({ name: 'Mine' }),
      await stripe.customers.create({ name: 'Theirs' }),
    ];
    const subscribe = (customer: string, tag: string) =>
      stripe.subscriptions.create({ customer, items: [{ price: price.id }], metadata: { tag } });
    const older = await subscribe(mine.id, 'older');
    await subscribe(theirs.id, 'theirs');
    const newer = await subscribe(mine.id, 'newer');
    const ended = server.state.subscriptions.get(older.id);
    if (ended) Object.assign(ended, { status: 'canceled', ended_at: Math.floor(clock / 1000) });

    const list = async (params: Stripe.SubscriptionListParams) => {
      const found: [string, string | undefined][] = [];
      for await (const s of stripe.subscriptions.list({ customer: mine.id, limit: 1, ...params })) {
        found.push([s.id, s.metadata.tag]);
      }
      return found;
    };
    // Read straight after the writes: list, unlike search, is not behind them.
    expect(await list({})).toEqual([[newer.id, 'newer']]);
    expect(await list({ status: 'all' })).toEqual([
      [newer.id, 'newer'],
      [older.id, 'older'],
    ]);
    expect(await list({ status: 'ended' })).toEqual([[older.id, 'older']]);
    const refused = await list({ status: 'gone' as 'all' }).catch((e: Stripe.errors.StripeError) => e.param);
    expect(refused).toBe('status');
  });
});
