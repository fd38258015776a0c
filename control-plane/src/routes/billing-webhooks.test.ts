import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { eq } from 'drizzle-orm';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, readReply, type Session, testClient } from '../../testing/test-app.js';
import { billingCustomers, stripePlanChanges } from '../db/schema.js';
import { getOrgStatus, setOrgStanding } from '../services/orgs/standing.js';

// Stripe cannot reach this machine (nor this machine Stripe), so these tests play Stripe's part: events are
// signed with the SDK's own helper, generateTestHeaderString, exactly as Stripe signs deliveries.

const SECRET = 'whsec_test_meridian_webhooks_0000000000';

let counter = 0;
/** A Stripe event as delivered: `{id, object: 'event', type, data: {object}, …}`. */
function stripeEvent(type: string, object: Record<string, unknown>) {
  counter += 1;
  return {
    id: `evt_test_${counter}_${Math.random().toString(36).slice(2, 10)}`,
    object: 'event',
    api_version: Stripe.API_VERSION,
    created: Math.floor(Date.now() / 1000),
    data: { object },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
  };
}

describe('POST /v1/billing/webhooks/stripe', () => {
  let t: Awaited<ReturnType<typeof createTestApp>>;
  let webhooks: ReturnType<typeof testClient>;
  let org: Session;
  const customer = 'cus_webhook_test';
  const subscription = 'sub_webhook_test';

  beforeAll(async () => {
    t = await createTestApp({ plan: 'pro' });
    webhooks = testClient(t.anotherInstance({ stripe: { webhookSecret: SECRET } }));
    org = await t.client.register('payer');
    await t.db
      .insert(billingCustomers)
      .values({ orgId: org.orgId, stripeCustomerId: customer, subscriptionId: subscription });
  });
  afterAll(() => t.cleanup());

  /** Delivers `body` (exact bytes) with a signature over `signed` (default: the same bytes). */
  const deliver = (body: string, options: { signed?: string; secret?: string; timestamp?: number } = {}) =>
    webhooks.call('POST', '/v1/billing/webhooks/stripe', {
      body,
      headers: {
        'stripe-signature': Stripe.webhooks.generateTestHeaderString({
          payload: options.signed ?? body,
          secret: options.secret ?? SECRET,
          ...(options.timestamp ? { timestamp: options.timestamp } : {}),
        }),
      },
    });
  const send = (event: ReturnType<typeof stripeEvent>) => deliver(JSON.stringify(event));

  it('suspends the org when a payment fails, and lifts it when the invoice is paid', async () => {
    const failed = await send(
      stripeEvent('invoice.payment_failed', { id: 'in_001', object: 'invoice', customer }),
    );
    expect(failed.status, failed.text).toBe(200);
    expect(failed.json).toEqual({ received: true, duplicate: false, action: 'suspended' });
    expect(await getOrgStatus(t.db, org.orgId)).toMatchObject({
      suspended: true,
      suspendedReason: 'payment failed (invoice in_001)',
    });
    // The edge reads the same standing and answers 402 with it.
    const edge = await t.client.call('GET', `/internal/v1/orgs/${org.orgId}`, { token: t.edgeServiceToken });
    expect(edge.json).toMatchObject({ suspended: true, suspendedReason: 'payment failed (invoice in_001)' });

    const paid = await send(stripeEvent('invoice.paid', { id: 'in_001', object: 'invoice', customer }));
    expect(paid.json).toEqual({ received: true, duplicate: false, action: 'reinstated' });
    expect(await getOrgStatus(t.db, org.orgId)).toMatchObject({ suspended: false, suspendedReason: null });
  });

  /** Another org with its own Stripe customer, so one test's invoices do not meet another's. */
  const payer = async (name: string) => {
    const session = await t.client.register(name);
    const customerId = `cus_${name}`;
    await t.db
      .insert(billingCustomers)
      .values({ orgId: session.orgId, stripeCustomerId: customerId, subscriptionId: `sub_${name}` });
    const invoice = (type: string, id: string) =>
      send(stripeEvent(type, { id, object: 'invoice', customer: customerId }));
    return { orgId: session.orgId, invoice };
  };

  it('does not suspend for a failed attempt Stripe delivers after the same invoice was paid', async () => {
    const { orgId, invoice } = await payer('late_failure');
    expect((await invoice('invoice.paid', 'in_late')).json.action).toBe('ignored');
    const late = await invoice('invoice.payment_failed', 'in_late');
    expect(late.json.action).toBe('ignored');
    expect((await getOrgStatus(t.db, orgId)).suspended).toBe(false);
  });

  it('keeps the org suspended while another invoice that failed is still unpaid', async () => {
    const { orgId, invoice } = await payer('two_failures');
    await invoice('invoice.payment_failed', 'in_march');
    await invoice('invoice.payment_failed', 'in_april');
    const april = await invoice('invoice.paid', 'in_april');
    expect(april.json.action).toBe('ignored');
    expect(await getOrgStatus(t.db, orgId)).toMatchObject({
      suspended: true,
      suspendedReason: 'payment failed (invoice in_march)',
    });
    const march = await invoice('invoice.payment_succeeded', 'in_march');
    expect(march.json.action).toBe('reinstated');
    expect((await getOrgStatus(t.db, orgId)).suspended).toBe(false);
  });

  it('changes nothing when Stripe redelivers an event it delivered before', async () => {
    const event = stripeEvent('invoice.payment_failed', { id: 'in_002', object: 'invoice', customer });
    expect((await send(event)).json.action).toBe('suspended');
    await setOrgStanding(t.db, org.orgId, { suspended: false }); // an operator lifts it meanwhile
    const again = await send(event);
    expect(again.status).toBe(200);
    expect(again.json).toEqual({ received: true, duplicate: true, action: 'ignored' });
    expect((await getOrgStatus(t.db, org.orgId)).suspended).toBe(false);
  });

  it('does not lift a suspension a payment did not cause', async () => {
    await setOrgStanding(t.db, org.orgId, { suspended: true, reason: 'abuse report #7' });
    const paid = await send(
      stripeEvent('invoice.payment_succeeded', { id: 'in_003', object: 'invoice', customer }),
    );
    expect(paid.json.action).toBe('ignored');
    expect(await getOrgStatus(t.db, org.orgId)).toMatchObject({
      suspended: true,
      suspendedReason: 'abuse report #7',
    });
    await setOrgStanding(t.db, org.orgId, { suspended: false });
  });

  it('moves the org to the free plan when its subscription is cancelled, and ignores other subscriptions', async () => {
    expect((await getOrgStatus(t.db, org.orgId)).plan).toBe('pro');
    const other = await send(
      stripeEvent('customer.subscription.deleted', { id: 'sub_other', object: 'subscription', customer }),
    );
    expect(other.json.action).toBe('ignored');
    expect((await getOrgStatus(t.db, org.orgId)).plan).toBe('pro');
    const cancelled = await send(
      stripeEvent('customer.subscription.deleted', { id: subscription, object: 'subscription', customer }),
    );
    expect(cancelled.json).toEqual({ received: true, duplicate: false, action: 'downgraded' });
    expect(await getOrgStatus(t.db, org.orgId)).toMatchObject({ plan: 'free', monthlyCallQuota: 1000 });
    // Stripe ended the subscription itself: no update of it is queued.
    const queued = await t.db.select().from(stripePlanChanges).where(eq(stripePlanChanges.orgId, org.orgId));
    expect(queued).toEqual([]);
  });

  it('acknowledges events about customers it does not know and types it does not handle', async () => {
    const stranger = await send(
      stripeEvent('invoice.payment_failed', { id: 'in_x', customer: 'cus_unknown' }),
    );
    expect(stranger.json).toMatchObject({ received: true, action: 'ignored' });
    const other = await send(stripeEvent('customer.updated', { id: customer, object: 'customer' }));
    expect(other.json).toMatchObject({ received: true, action: 'ignored' });
  });

  it('verifies the exact bytes received: pretty-printed JSON with non-ASCII text passes untouched', async () => {
    const event = stripeEvent('invoice.payment_failed', {
      id: 'in_004',
      object: 'invoice',
      customer,
      description: 'Überweisung fehlgeschlagen — 支払い',
    });
    const res = await deliver(JSON.stringify(event, null, 2));
    expect(res.status, res.text).toBe(200);
    await setOrgStanding(t.db, org.orgId, { suspended: false });
  });

  it('answers 400 in the envelope to a tampered, unsigned, wrongly signed or stale delivery', async () => {
    const event = stripeEvent('invoice.paid', { id: 'in_005', object: 'invoice', customer });
    const original = JSON.stringify(event);
    const tampered = original.replace('in_005', 'in_006');
    const cases = [
      await deliver(tampered, { signed: original }),
      await deliver(original, { secret: 'whsec_someone_else' }),
      await deliver(original, { timestamp: Math.floor(Date.now() / 1000) - 3600 }),
      await webhooks.call('POST', '/v1/billing/webhooks/stripe', { body: original }),
      await deliver('not json at all'),
    ];
    for (const res of cases) {
      expect(res.status, res.text).toBe(400);
      expect(res.json).toEqual({
        error: { code: 'bad_request', message: expect.any(String), requestId: expect.any(String) },
      });
    }
    // None of them was recorded: the genuine delivery is still handled.
    expect((await deliver(original)).json.duplicate).toBe(false);
  });

  it('answers 503 when no webhook secret is configured', async () => {
    const res = await t.client.call('POST', '/v1/billing/webhooks/stripe', {
      body: '{}',
      headers: { 'stripe-signature': 't=1,v1=00' },
    });
    expect(res.status).toBe(503);
    expect(res.json.error.code).toBe('unavailable');
  });

  it('verifies deliveries over a real HTTP connection too (the body limit keeps the bytes as they came)', async () => {
    const server = serve({ fetch: t.anotherInstance({ stripe: { webhookSecret: SECRET } }).fetch, port: 0 });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    try {
      const { port } = server.address() as AddressInfo;
      const body = JSON.stringify(
        stripeEvent('invoice.paid', { id: 'in_007', object: 'invoice', customer }),
        null,
        1,
      );
      const signature = Stripe.webhooks.generateTestHeaderString({ payload: body, secret: SECRET });
      const res = await readReply(
        await fetch(`http://127.0.0.1:${port}/v1/billing/webhooks/stripe`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'stripe-signature': signature },
          body,
        }),
      );
      expect(res.status, res.text).toBe(200);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
