import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createStripeTestbed, HOUR, hourAgo, type StripeTestbed } from '../../../../testing/stripe.js';
import { eventTimestamp } from './drain.js';

// Stripe's API is unreachable from these machines, so the Stripe side here is the local stand-in
// (control-plane/testing/stripe-server), reached through the real stripe SDK.

const DAY = 24 * HOUR;

describe('meter event timestamps', () => {
  const now = Date.UTC(2026, 4, 20, 12, 7);

  it('stamps an event with the middle of its hour', () => {
    expect(eventTimestamp(Date.UTC(2026, 4, 20, 9), now)).toBe(Date.UTC(2026, 4, 20, 9, 30) / 1000);
  });

  it('moves a window older than Stripe accepts to an hour inside its 35 days, and never into the future', () => {
    expect(eventTimestamp(now - 40 * DAY, now)).toBe((now - 35 * DAY + HOUR) / 1000);
    expect(eventTimestamp(Date.UTC(2026, 4, 20, 12), now)).toBe(now / 1000);
  });

  it("stamps the hours either side of a month's end inside their own months, the periods Stripe's anchored subscription and the platform's invoice share", () => {
    const june = Date.UTC(2026, 5, 1) / 1000;
    const sentAt = Date.UTC(2026, 5, 1, 0, 10);
    expect(eventTimestamp(Date.UTC(2026, 4, 31, 23), sentAt)).toBeLessThan(june);
    expect(eventTimestamp(Date.UTC(2026, 5, 1, 0), sentAt)).toBeGreaterThanOrEqual(june);
  });
});

describe('draining the outbox', () => {
  let t: StripeTestbed;
  beforeEach(async () => {
    t = await createStripeTestbed();
  });
  afterEach(() => t.cleanup());

  it('keeps a row Stripe rejects for good waiting, logs it, and sends the pair’s other rows', async () => {
    const org = await t.createOrg();
    await t.addUsage(org, 'inference_calls', 3, hourAgo(3));
    await t.addUsage(org, 'inference_calls', 4, hourAgo(2));
    t.server.failNext(1, 'invalid_request');
    const pass = await t.runner().runOnce();
    expect(pass.drain).toMatchObject({ sent: 1, failed: 1 });
    const rows = await t.outbox(org);
    expect(rows.map((r) => r.status).sort()).toEqual(['pending', 'sent']);
    expect(rows.find((r) => r.status === 'pending')?.lastError).toMatch(/^http 400: Invalid request/);
    expect(
      t.logLines.some((l) => l.includes('"level":"error"') && l.includes('stripe meter event failed')),
    ).toBe(true);
    // It stays in the outbox, with backoff, until someone fixes what Stripe objected to; nothing is dropped.
    await t.runner().runOnce(Date.now() + 60_000);
    expect(await t.stripeTotal(org, 'inference_calls')).toBe(7);
  });

  it('works through a backlog larger than one batch in a single pass', async () => {
    const org = await t.createOrg();
    for (let h = 2; h <= 8; h += 1) await t.addUsage(org, 'inference_calls', h, hourAgo(h));
    const pass = await t.runner({ batchSize: 2 }).runOnce();
    expect(pass.drain).toMatchObject({ sent: 7, rows: 7 });
    expect(await t.stripeTotal(org, 'inference_calls')).toBe(35);
  });

  it('holds the rows of orgs without a Stripe customer until the runner has made one', async () => {
    const org = await t.createOrg();
    await t.addUsage(org, 'inference_calls', 5, hourAgo(2));
    // The connection drops twice: the first try and the SDK's one resend of a closed connection.
    t.server.failNext(2, 'drop', { path: '/v1/customers' });
    const first = await t.runner().runOnce();
    expect(first).toMatchObject({ enqueued: 1, customersEnsured: 0, drain: { sent: 0, failed: 0 } });
    expect((await t.outbox(org))[0]).toMatchObject({ status: 'pending', attempts: 0 });
    const second = await t.runner().runOnce();
    expect(second).toMatchObject({ customersEnsured: 1, drain: { sent: 1 } });
    expect(t.server.state.customers.size).toBe(1);
    expect(await t.stripeTotal(org, 'inference_calls')).toBe(5);
  });
});
