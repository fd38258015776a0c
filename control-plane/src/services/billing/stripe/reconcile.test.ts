import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createStripeTestbed, HOUR, hourAgo, type StripeTestbed } from '../../../../testing/stripe.js';
import { createTestApp, testClient } from '../../../../testing/test-app.js';
import { eventNameFor } from './catalogue.js';
import { reconcile } from './reconcile.js';

// Stripe's API is unreachable from these machines, so the Stripe side here is the local stand-in
// (control-plane/testing/stripe-server), reached through the real stripe SDK. "Tampering" edits the
// stand-in's events directly, as if Stripe held something Meridian never sent, or lost something it did.

describe('reconciling what was pushed with Stripe’s meter event summaries', () => {
  let t: StripeTestbed;
  let a: string;
  let b: string;
  beforeEach(async () => {
    t = await createStripeTestbed();
    a = await t.createOrg();
    b = await t.createOrg();
    await t.addUsage(a, 'inference_calls', 30, hourAgo(3));
    await t.addUsage(a, 'inference_calls', 12, hourAgo(2));
    await t.addUsage(a, 'inference_calls', 5, Date.now()); // the open hour: in the ledger, not pushed yet
    await t.addUsage(b, 'cpu_minutes', 150, hourAgo(2)); // 3 minutes
  });
  afterEach(() => t.cleanup());

  const period = () => ({ from: hourAgo(5), to: Date.now() + HOUR, logger: t.logger });

  it('reports no drift when Stripe holds exactly what was sent', async () => {
    await t.runner().runOnce();
    const result = await reconcile(t.db, t.gateway, period());
    expect(result.drifted).toEqual([]);
    expect(result.rows).toEqual(
      [
        {
          orgId: a,
          customerId: await t.customerOf(a),
          meter: 'inference_calls',
          ledger: 47,
          sent: 42,
          pending: 0,
          stripe: 42,
          drift: 0,
          notYetEnqueued: 5,
        },
        {
          orgId: b,
          customerId: await t.customerOf(b),
          meter: 'cpu_minutes',
          ledger: 3,
          sent: 3,
          pending: 0,
          stripe: 3,
          drift: 0,
          notYetEnqueued: 0,
        },
      ].sort((x, y) => x.orgId.localeCompare(y.orgId)),
    );
    expect(result.from).toBe(hourAgo(5));
  });

  it('reports the drift when Stripe holds more or less than was sent, and logs it', async () => {
    await t.runner().runOnce();
    const customerA = await t.customerOf(a);
    const customerB = await t.customerOf(b);
    t.server.injectMeterEvent({
      identifier: 'not-from-meridian',
      eventName: eventNameFor('inference_calls'),
      customer: customerA,
      value: '5',
      timestamp: Math.floor((hourAgo(2) + 600_000) / 1000),
    });
    // Outside the period: does not count.
    t.server.injectMeterEvent({
      identifier: 'long-ago',
      eventName: eventNameFor('inference_calls'),
      customer: customerA,
      value: '100',
      timestamp: Math.floor(hourAgo(30) / 1000),
    });
    t.server.removeMeterEvents((e) => e.customer === customerB);
    // An event for a meter Meridian never pushed for that customer shows up too.
    t.server.injectMeterEvent({
      identifier: 'stray-gpu',
      eventName: eventNameFor('gpu_t4_minutes'),
      customer: customerB,
      value: '4',
      timestamp: Math.floor(hourAgo(3) / 1000),
    });

    const result = await reconcile(t.db, t.gateway, period());
    const drift = result.drifted.map((r) => [r.orgId, r.meter, r.stripe, r.sent, r.drift]);
    expect(drift.sort()).toEqual(
      [
        [a, 'inference_calls', 47, 42, 5],
        [b, 'cpu_minutes', 0, 3, -3],
        [b, 'gpu_t4_minutes', 4, 0, 4],
      ].sort(),
    );
    expect(t.logLines.filter((l) => l.includes('stripe usage drift'))).toHaveLength(3);
  });

  it('counts events still in the outbox as pending, not as drift, whether Stripe has them yet or not', async () => {
    t.server.failNext(1, 'server_error', { path: '/v1/billing/meter_events' });
    t.server.failNext(1, 'accept_then_hang', { path: '/v1/billing/meter_events' });
    await t.runner({ concurrency: 1 }).runOnce();
    const result = await reconcile(t.db, t.gateway, period());
    expect(result.drifted).toEqual([]);
    const pending = result.rows.reduce((sum, r) => sum + r.pending, 0);
    expect(pending).toBeGreaterThan(0);
  });
});

describe('GET /internal/v1/billing/reconciliation', () => {
  let app: Awaited<ReturnType<typeof createTestApp>>;
  let t: StripeTestbed;
  let withStripe: ReturnType<typeof testClient>;
  const path = (from: number, to: number) =>
    `/internal/v1/billing/reconciliation?from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`;

  beforeAll(async () => {
    app = await createTestApp();
    t = await createStripeTestbed({ db: app.db });
    withStripe = testClient(app.anotherInstance({ stripe: { gateway: t.gateway } }));
    const owner = await app.client.register('owner');
    await t.addUsage(owner.orgId, 'inference_calls', 8, hourAgo(2));
    await t.runner().runOnce();
  });
  afterAll(async () => {
    await t.cleanup();
    app.cleanup();
  });

  it('answers operators with every row and no drift', async () => {
    const res = await withStripe.call('GET', path(hourAgo(4), Date.now()), { token: app.operatorToken });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({
      from: new Date(hourAgo(4)).toISOString(),
      rows: [expect.objectContaining({ meter: 'inference_calls', ledger: 8, sent: 8, stripe: 8, drift: 0 })],
      drifted: [],
    });
  });

  it('refuses anyone without the operator token, in the envelope', async () => {
    for (const token of [undefined, app.edgeServiceToken]) {
      const res = await withStripe.call('GET', path(hourAgo(4), Date.now()), token ? { token } : {});
      expect(res.status).toBe(401);
      expect(res.json.error.code).toBe('unauthenticated');
    }
  });

  it('answers 400 for a missing or backwards period and 503 where Stripe is not configured', async () => {
    const token = app.operatorToken;
    expect((await withStripe.call('GET', path(Date.now(), hourAgo(4)), { token })).status).toBe(400);
    expect((await withStripe.call('GET', '/internal/v1/billing/reconciliation', { token })).status).toBe(400);
    const unconfigured = await app.client.call('GET', path(hourAgo(4), Date.now()), { token });
    expect(unconfigured.status).toBe(503);
    expect(unconfigured.json.error).toMatchObject({ code: 'unavailable' });
  });
});
