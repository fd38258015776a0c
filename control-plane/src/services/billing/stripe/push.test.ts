import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createStripeTestbed, HOUR, hourAgo, type StripeTestbed } from '../../../../testing/stripe.js';
import { enqueueClosedWindows } from './enqueue.js';

// Stripe's API is unreachable from these machines, so the Stripe side here is the local stand-in
// (control-plane/testing/stripe-server), reached through the real stripe SDK. It enforces what Stripe
// does: unique identifiers, the 35-day timestamp window, one concurrent call per customer per meter.

const meterEventCalls = (t: StripeTestbed) =>
  t.server.requests.filter((r) => r.method === 'POST' && r.path === '/v1/billing/meter_events');

const accepted = (t: StripeTestbed) =>
  [...t.server.meterEvents]
    .map((e) => ({
      identifier: e.identifier,
      event: e.eventName,
      customer: e.customer,
      value: e.value,
      at: e.timestamp,
    }))
    .sort((a, b) => a.identifier.localeCompare(b.identifier));

describe('pushing ledger usage to Stripe as meter events', () => {
  let t: StripeTestbed;
  beforeEach(async () => {
    t = await createStripeTestbed();
  });
  afterEach(() => t.cleanup());

  it('sends each closed (org, meter, hour) window once, with the billable quantity of the rounding rule', async () => {
    const org = await t.createOrg();
    const a = hourAgo(3);
    const b = hourAgo(2);
    await t.addUsage(org, 'inference_calls', 10, a + 1_000);
    await t.addUsage(org, 'inference_calls', 20, a + 60_000);
    await t.addUsage(org, 'inference_calls', 5, a + HOUR - 1);
    await t.addUsage(org, 'inference_calls', 7, b + 5);
    await t.addUsage(org, 'gpu_t4_minutes', 61, a + 10); // 91 s in the hour: 2 minutes
    await t.addUsage(org, 'gpu_t4_minutes', 30, a + 20);
    await t.addUsage(org, 'storage_mb_hours', 1_500_000, a); // 1.5 MB-hours rounds half up to 2
    await t.addUsage(org, 'inference_calls', 99, Date.now()); // this hour is still open

    const pass = await t.runner().runOnce();
    const customer = await t.customerOf(org);
    const at = (windowStart: number) => (windowStart + HOUR / 2) / 1000;
    expect(accepted(t)).toEqual([
      {
        identifier: `${org}:gpu_t4_minutes:${a}:1`,
        event: 'meridian_gpu_t4_minutes',
        customer,
        value: '2',
        at: at(a),
      },
      {
        identifier: `${org}:inference_calls:${a}:1`,
        event: 'meridian_inference_calls',
        customer,
        value: '35',
        at: at(a),
      },
      {
        identifier: `${org}:inference_calls:${b}:1`,
        event: 'meridian_inference_calls',
        customer,
        value: '7',
        at: at(b),
      },
      {
        identifier: `${org}:storage_mb_hours:${a}:1`,
        event: 'meridian_storage_mb_hours',
        customer,
        value: '2',
        at: at(a),
      },
    ]);
    expect(pass).toMatchObject({ leader: true, enqueued: 4, drain: { sent: 4, duplicates: 0, failed: 0 } });
    expect(t.server.meterErrors).toEqual([]);
    expect((await t.outbox(org)).map((r) => r.status)).toEqual(['sent', 'sent', 'sent', 'sent']);
  });

  it('changes nothing when the producer runs again or the ledger sources are replayed', async () => {
    const org = await t.createOrg();
    const ids = [
      await t.addUsage(org, 'inference_calls', 12, hourAgo(2)),
      await t.addUsage(org, 'cpu_minutes', 600, hourAgo(2)),
    ];
    const runner = t.runner();
    await runner.runOnce();
    const calls = meterEventCalls(t).length;
    // The same facts arrive again (an edge batch or agent report replayed): same ids, skipped by the ledger.
    await t.addUsage(org, 'inference_calls', 12, hourAgo(2), ids[0]);
    await t.addUsage(org, 'cpu_minutes', 600, hourAgo(2), ids[1]);
    await runner.runOnce();
    await t.runner({ instanceId: 'restarted' }).runOnce(Date.now() + 4 * 60_000);
    expect(await enqueueClosedWindows(t.db, Date.now(), { graceMs: 0 })).toEqual({ enqueued: 0, units: 0 });
    expect(meterEventCalls(t)).toHaveLength(calls);
    expect(await t.stripeTotal(org, 'inference_calls')).toBe(12);
    expect(await t.stripeTotal(org, 'cpu_minutes')).toBe(10);
  });

  it('turns late usage for a window already pushed into one delta event with its own identifier', async () => {
    const org = await t.createOrg();
    const a = hourAgo(3);
    await t.addUsage(org, 'inference_calls', 35, a);
    await t.addUsage(org, 'gpu_t4_minutes', 91, a);
    const runner = t.runner();
    await runner.runOnce();
    const before = t.server.meterEvents.length;

    await t.addUsage(org, 'inference_calls', 5, a + 10 * 60_000);
    await t.addUsage(org, 'gpu_t4_minutes', 10, a); // 101 s: still 2 minutes, nothing to add
    await runner.runOnce();
    expect(accepted(t).filter((e) => !e.identifier.endsWith(':1'))).toEqual([
      expect.objectContaining({ identifier: `${org}:inference_calls:${a}:2`, value: '5' }),
    ]);
    expect(t.server.meterEvents).toHaveLength(before + 1);

    await t.addUsage(org, 'gpu_t4_minutes', 30, a); // 131 s: 3 minutes, one more
    await t.runner({ instanceId: 'restarted' }).runOnce(Date.now() + 4 * 60_000);
    expect(accepted(t).filter((e) => e.identifier.includes('gpu_t4'))).toEqual([
      expect.objectContaining({ identifier: `${org}:gpu_t4_minutes:${a}:1`, value: '2' }),
      expect.objectContaining({ identifier: `${org}:gpu_t4_minutes:${a}:2`, value: '1' }),
    ]);
    expect(await t.stripeTotal(org, 'inference_calls')).toBe(40);
    expect(await t.stripeTotal(org, 'gpu_t4_minutes')).toBe(3);
  });

  it('waits out the grace period after an hour ends before pushing it', async () => {
    const org = await t.createOrg();
    await t.addUsage(org, 'inference_calls', 1, hourAgo(3));
    await t.addUsage(org, 'inference_calls', 2, hourAgo(2)); // ended less than two hours ago
    await t.runner({ windowGraceMs: 2 * HOUR }).runOnce();
    expect(accepted(t).map((e) => [e.identifier, e.value])).toEqual([
      [`${org}:inference_calls:${hourAgo(3)}:1`, '1'],
    ]);
  });

  it('writes each delta once even when two producers run at the same time', async () => {
    const org = await t.createOrg();
    for (let h = 2; h <= 6; h += 1) await t.addUsage(org, 'inference_calls', h, hourAgo(h));
    const now = Date.now();
    const results = await Promise.all([
      enqueueClosedWindows(t.db, now, { graceMs: 0 }),
      enqueueClosedWindows(t.db, now, { graceMs: 0 }),
    ]);
    expect(results.reduce((sum, r) => sum + r.enqueued, 0)).toBe(5);
    const rows = await t.outbox(org);
    expect(rows.map((r) => r.value).reduce((a, b) => a + b, 0)).toBe(2 + 3 + 4 + 5 + 6);
  });

  it('retries 429s (honouring Retry-After), 500s and timeouts with backoff, and the totals end exact', async () => {
    const orgs = [await t.createOrg(), await t.createOrg()];
    for (const org of orgs) {
      await t.addUsage(org, 'inference_calls', 4, hourAgo(2));
      await t.addUsage(org, 'gpu_v100_minutes', 120, hourAgo(2));
    }
    t.server.failNext(1, 'rate_limit', { retryAfterSeconds: 30 });
    t.server.failNext(2, 'server_error');
    t.server.failNext(1, 'hang');
    const runner = t.runner();
    const start = Date.now();
    const first = await runner.runOnce(start);
    expect(first.drain?.rateLimited).toBe(true);
    const throttled = (await Promise.all(orgs.map((o) => t.outbox(o))))
      .flat()
      .find((r) => r.lastError?.startsWith('rate_limited 429'));
    expect(throttled?.nextAttemptAt.getTime()).toBeGreaterThanOrEqual(start + 30_000);

    for (let pass = 1; pass <= 10; pass += 1) {
      // Passes are a minute apart in production; here they are moments apart on the wall clock, so give the
      // stand-in the moment it needs to notice a timed-out call was abandoned before the next one arrives.
      await sleep(25);
      await runner.runOnce(start + pass * 60_000);
    }
    for (const org of orgs) {
      expect((await t.outbox(org)).every((r) => r.status === 'sent')).toBe(true);
      expect(await t.stripeTotal(org, 'inference_calls')).toBe(4);
      expect(await t.stripeTotal(org, 'gpu_v100_minutes')).toBe(2);
    }
    expect(new Set(t.server.meterEvents.map((e) => e.identifier)).size).toBe(t.server.meterEvents.length);
    expect(
      meterEventCalls(t)
        .map((r) => r.injected)
        .filter(Boolean)
        .sort(),
    ).toEqual(['hang', 'rate_limit', 'server_error', 'server_error']);
    // Stripe replays a key's saved 500, so the retry after one must carry a new Idempotency-Key.
    for (const failed of meterEventCalls(t).filter((r) => r.injected === 'server_error')) {
      const retry = meterEventCalls(t).find(
        (r) => r.params.identifier === failed.params.identifier && r.status === 200,
      );
      expect(retry?.idempotencyKey).toBeDefined();
      expect(retry?.idempotencyKey).not.toBe(failed.idempotencyKey);
    }
    expect(t.server.concurrencyViolations).toEqual([]);
  });

  it('never has two calls in flight for one customer and meter, while pairs go in parallel up to the cap', async () => {
    t.server.setLatency(15);
    for (let o = 0; o < 6; o += 1) {
      const org = await t.createOrg();
      for (let h = 2; h <= 4; h += 1) {
        await t.addUsage(org, 'inference_calls', o + h, hourAgo(h));
        await t.addUsage(org, 'cpu_minutes', 60 * h, hourAgo(h));
      }
    }
    const pass = await t.runner({ concurrency: 4 }).runOnce();
    expect(pass.drain).toMatchObject({ sent: 36, failed: 0 });
    expect(t.server.concurrencyViolations).toEqual([]);

    const calls = meterEventCalls(t);
    const byPair = new Map<string | undefined, typeof calls>();
    for (const call of calls) byPair.set(call.lockKey, [...(byPair.get(call.lockKey) ?? []), call]);
    expect(byPair.size).toBe(12);
    for (const pairCalls of byPair.values()) {
      const ordered = [...pairCalls].sort((x, y) => x.startedAt - y.startedAt);
      for (let i = 1; i < ordered.length; i += 1) {
        expect(ordered[i]?.startedAt).toBeGreaterThanOrEqual(
          ordered[i - 1]?.endedAt ?? Number.POSITIVE_INFINITY,
        );
      }
    }
    const edges = calls.flatMap((r) => [
      { at: r.startedAt, d: 1 },
      { at: r.endedAt ?? 0, d: -1 },
    ]);
    let inFlight = 0;
    let most = 0;
    for (const e of edges.sort((x, y) => x.at - y.at || x.d - y.d)) {
      inFlight += e.d;
      most = Math.max(most, inFlight);
    }
    expect(most).toBeLessThanOrEqual(4);
    expect(most).toBeGreaterThan(1);
  });
});

describe('a push cut short: Stripe accepted the event, Meridian never recorded it', () => {
  let t: StripeTestbed;
  beforeEach(async () => {
    t = await createStripeTestbed({ timeoutMs: 1_000 });
  });
  afterEach(() => t.cleanup());

  const oneWindow = async () => {
    const org = await t.createOrg();
    await t.addUsage(org, 'inference_calls', 9, hourAgo(2));
    return org;
  };
  const countsOf = (identifier: string) =>
    t.server.meterEvents.filter((e) => e.identifier === identifier).length;

  it('survives the process dying right after the call: the restart resends it and Stripe counts it once', async () => {
    const org = await oneWindow();
    const dying = new Proxy(t.gateway, {
      get(target, property, receiver) {
        if (property === 'sendMeterEvent') {
          return async (...args: Parameters<typeof target.sendMeterEvent>) => {
            await target.sendMeterEvent(...args);
            throw new Error('process killed');
          };
        }
        const value = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    await expect(t.runner({ instanceId: 'first', gateway: dying }).runOnce()).rejects.toThrow(
      'process killed',
    );
    const [row] = await t.outbox(org);
    expect(row).toMatchObject({ status: 'pending', attempts: 0 });

    // The restarted process takes the lease over once the dead one's has expired.
    const pass = await t.runner({ instanceId: 'second' }).runOnce(Date.now() + 5 * 60_000);
    expect(pass.leader).toBe(true);
    expect((await t.outbox(org))[0]).toMatchObject({ status: 'sent' });
    expect(countsOf(`${org}:inference_calls:${hourAgo(2)}:1`)).toBe(1);
    expect(meterEventCalls(t).at(-1)).toMatchObject({ replayed: true, status: 200 });
    expect(await t.stripeTotal(org, 'inference_calls')).toBe(9);
  });

  it('survives a connection dropped after Stripe processed the event', async () => {
    const org = await oneWindow();
    t.server.failNext(1, 'accept_then_drop');
    const pass = await t.runner().runOnce();
    expect(pass.drain).toMatchObject({ sent: 1, failed: 0 });
    expect((await t.outbox(org))[0]).toMatchObject({ status: 'sent' });
    // The SDK resends once on a closed connection with the same Idempotency-Key: Stripe replays its answer.
    const [dropped, resent] = meterEventCalls(t);
    expect(dropped).toMatchObject({ outcome: 'dropped', status: 200 });
    expect(resent).toMatchObject({ replayed: true, status: 200, idempotencyKey: dropped?.idempotencyKey });
    expect(countsOf(`${org}:inference_calls:${hourAgo(2)}:1`)).toBe(1);
    expect(await t.stripeTotal(org, 'inference_calls')).toBe(9);
  });

  it('marks an event sent when a timed-out attempt had been counted: Stripe rejects the identifier as known', async () => {
    const org = await oneWindow();
    t.server.failNext(1, 'accept_then_hang');
    const runner = t.runner();
    const first = await runner.runOnce();
    expect(first.drain).toMatchObject({ sent: 0, failed: 1 });
    expect((await t.outbox(org))[0]).toMatchObject({ status: 'pending', attempts: 1 });
    expect((await t.outbox(org))[0]?.lastError).toMatch(/^timeout/);

    const second = await runner.runOnce(Date.now() + 60_000);
    expect(second.drain).toMatchObject({ sent: 0, duplicates: 1, failed: 0 });
    expect((await t.outbox(org))[0]).toMatchObject({ status: 'sent', attempts: 2 });
    expect(meterEventCalls(t).at(-1)).toMatchObject({ status: 400 });
    expect(countsOf(`${org}:inference_calls:${hourAgo(2)}:1`)).toBe(1);
    expect(await t.stripeTotal(org, 'inference_calls')).toBe(9);
  });
});
