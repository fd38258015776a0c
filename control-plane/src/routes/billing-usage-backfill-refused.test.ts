import { billingWindow } from '@meridian/protocol';
import { eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createStripeTestbed, HOUR, type StripeTestbed, TEST_STRIPE_KEY } from '../../testing/stripe.js';
import { createTestApp, type Session } from '../../testing/test-app.js';
import { stripeUsageBackfills } from '../db/schema.js';
import { calendarMonth } from '../services/billing/period.js';
import { PRO_PRICE_LOOKUP_KEY } from '../services/billing/stripe/catalogue.js';
import { createStripeClient } from '../services/billing/stripe/sdk-gateway.js';

// Stripe's API is unreachable from these machines, so the Stripe side here is the local stand-in
// (control-plane/testing/stripe-server), a fake that refuses a subscription on an archived price and adds invoice
// items as POST /v1/invoiceitems does; its injected failures stand in for Stripe refusing an item (a 400
// invalid_request_error) or failing for a while (a 500). Reached through the real SDK, on a clock the test moves
// across a month's end; the owner reads and retries through the real routes.

const DAY = 24 * HOUR;
const INVOICE_ITEMS = { method: 'POST', path: '/v1/invoiceitems' };

describe('usage backfill invoice items Stripe refuses', () => {
  let t: Awaited<ReturnType<typeof createTestApp>>;
  let stripe: StripeTestbed;
  let owner: Session;
  let stripeNow: number | undefined;
  const thisMonth = calendarMonth(Date.now());
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

  const setProPriceActive = async (active: boolean) => {
    const price = [...stripe.server.state.prices.values()].find((p) => p.lookup_key === PRO_PRICE_LOOKUP_KEY);
    await createStripeClient({ secretKey: TEST_STRIPE_KEY, apiUrl: stripe.server.url }).prices.update(
      String(price?.id),
      { active },
    );
  };
  const itemPosts = () =>
    stripe.server.requests.filter((r) => r.method === INVOICE_ITEMS.method && r.path === INVOICE_ITEMS.path);
  const addedItems = () => stripe.server.state.invoiceItems.filter((item) => item.proration === false);
  const choosePro = async () => {
    const res = await t.client.call('PUT', '/v1/billing/plan', {
      token: owner.accessToken,
      body: { plan: 'pro' },
    });
    expect(res.status).toBe(200);
    return res.json as { subscriptionRetried: boolean; usageBackfillRetried: boolean };
  };
  type Refused = { summary: string; code: string | null; type: string; items: Record<string, unknown>[] };
  const read = async (path: string) => {
    const res = await t.client.call('GET', path, { token: owner.accessToken });
    expect(res.status).toBe(200);
    return (res.json as { usageBackfillRefused: Refused | null }).usageBackfillRefused;
  };
  /** Month M: the first subscription is refused (archived price) and the org uses 1,234 calls; M+1: it starts. */
  const startInTheNextMonth = async () => {
    stripeNow = lastMonthDay;
    await stripe.runner().runOnce(lastMonthDay);
    await setProPriceActive(false);
    await stripe.addUsage(owner.orgId, 'inference_calls', 1234, lastMonthUsage);
    await stripe.runner().runOnce(lastMonthDay);
    stripeNow = undefined;
    await setProPriceActive(true);
    await choosePro();
  };

  it('records a refused item, sends it no more, logs it once and shows it to the owner with how to retry', async () => {
    await startInTheNextMonth();
    stripe.server.failNext(1, 'invalid_request', INVOICE_ITEMS);
    await stripe.runner().runOnce(Date.now());
    await stripe.runner().runOnce(Date.now() + HOUR);
    await stripe.runner().runOnce(Date.now() + 2 * HOUR);

    expect(itemPosts()).toHaveLength(1);
    expect(addedItems()).toEqual([]);
    const [row] = await t.db
      .select()
      .from(stripeUsageBackfills)
      .where(eq(stripeUsageBackfills.orgId, owner.orgId));
    expect(row?.status).toBe('refused');
    const logged = stripe.logLines.filter((l) => l.includes('stripe refused a usage backfill invoice item'));
    expect(logged).toHaveLength(1);
    expect(logged[0]).toContain('"level":"error"');

    const refused = await read('/v1/billing/stats');
    expect(refused).toMatchObject({
      type: 'invalid_request_error',
      items: [
        {
          month: new Date(lastMonthUsage).toISOString().slice(0, 7),
          meter: 'inference_calls',
          description: `Inference: $0.001 per call: 1,234 calls in ${lastMonth}, before the subscription began`,
          amountUsd: '1.23',
        },
      ],
    });
    expect(refused?.summary).toContain(`1,234 calls in ${lastMonth}`);
    expect(refused?.summary).toContain('Stripe refused it (invalid_request_error)');
    expect(refused?.summary).toContain(
      'an owner can try again by choosing the Pro plan again: meridian plan set pro',
    );
    expect(await read('/v1/billing/invoices/upcoming')).toEqual(refused);
  });

  it('sends a refused item again, under a new key, once the owner chooses the plan again', async () => {
    await startInTheNextMonth();
    stripe.server.failNext(1, 'invalid_request', INVOICE_ITEMS);
    await stripe.runner().runOnce(Date.now());
    expect(await read('/v1/billing/stats')).not.toBeNull();

    expect(await choosePro()).toMatchObject({ subscriptionRetried: false, usageBackfillRetried: true });
    expect((await choosePro()).usageBackfillRetried).toBe(true);
    await stripe.runner().runOnce(Date.now() + HOUR);
    await stripe.runner().runOnce(Date.now() + 2 * HOUR);

    const subscription = await stripe.subscriptionOf(owner.orgId);
    expect(addedItems().map((i) => [i.amount, i.subscription, i.metadata])).toEqual([
      [
        123,
        subscription,
        {
          org_id: owner.orgId,
          backfill_key: `usage-backfill-${owner.orgId}-${new Date(lastMonthUsage).toISOString().slice(0, 7)}-inference_calls-after-refusal-1`,
        },
      ],
    ]);
    expect(await read('/v1/billing/stats')).toBeNull();
    // Nothing is refused any more: choosing Pro again is the no-op it was.
    expect((await choosePro()).usageBackfillRetried).toBe(false);
  });

  it('keeps sending an item Stripe failed for a while, with backoff, and shows nothing', async () => {
    await startInTheNextMonth();
    stripe.server.failNext(2, 'rate_limit', INVOICE_ITEMS);
    await stripe.runner().runOnce(Date.now());
    expect(await read('/v1/billing/stats')).toBeNull();
    await stripe.runner().runOnce(Date.now() + HOUR);
    await stripe.runner().runOnce(Date.now() + 2 * HOUR);

    expect(addedItems().map((i) => i.amount)).toEqual([123]);
    expect(await read('/v1/billing/invoices/upcoming')).toBeNull();
  });
});
