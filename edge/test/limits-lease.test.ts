import { runInDurableObject } from 'cloudflare:test';
import type { ApiKeyRateLimit } from '@meridian/protocol';
import { describe, expect, it } from 'vitest';
import { MAX_BLOCK_UNITS } from '../src/limits/grant-lease.js';
import { HELD_GRACE_MS } from '../src/limits/held-blocks.js';
import { LeaseBook, type Limiter, type LimitSubject } from '../src/limits/lease-book.js';
import { testEnv } from './helpers/auth-env.js';
import { uniqueId } from './helpers/auth-fake-control-plane.js';

// Several LeaseBooks stand for several isolates: each holds its own leases and talks to the one real
// OrgLimiter Durable Object (SQLite storage) of the org, as isolates on different machines would. The
// end-to-end test with separate workerd Worker services is in test/edge-limits-e2e.test.ts.

const env = testEnv();
const LEASE_MS = 5_000;

function limiterOf(orgId: string): Limiter & { calls: number } {
  const stub = env.ORG_LIMITER.get(env.ORG_LIMITER.idFromName(orgId));
  const limiter = {
    calls: 0,
    lease: (request: Parameters<Limiter['lease']>[0]) => {
      limiter.calls += 1;
      return stub.lease(request);
    },
    giveBack: (returns: Parameters<Limiter['giveBack']>[0]) => {
      limiter.calls += 1;
      return stub.giveBack(returns);
    },
  };
  return limiter;
}

function subject(orgId: string, options: { quota?: number | null; rateLimits?: ApiKeyRateLimit[] } = {}) {
  return {
    orgId,
    subject: `key:${uniqueId('key')}`,
    rateLimits: options.rateLimits ?? [],
    monthlyCallQuota: options.quota === undefined ? 1_000 : options.quota,
  } satisfies LimitSubject;
}

/** The org limiter's stored count of a limit (what all blocks granted in the window add up to). */
function storedUsed(orgId: string, scope: string, policy: string): Promise<number> {
  const stub = env.ORG_LIMITER.get(env.ORG_LIMITER.idFromName(orgId));
  return runInDurableObject(stub, (_, state) => {
    const row = state.storage.sql
      .exec<{ used: number }>('SELECT used FROM counters WHERE scope = ? AND name = ?', scope, policy)
      .toArray()[0];
    return row?.used ?? 0;
  });
}

/** Admits calls through `book` until one is refused: how many were admitted, the refusal and how long it took. */
async function admitUntilRefused(book: LeaseBook, limiter: Limiter, call: LimitSubject) {
  let admitted = 0;
  for (;;) {
    const startedAt = Date.now();
    const outcome = await book.admit(limiter, call);
    if (!outcome.admitted) return { admitted, refusal: outcome, refusedInMs: Date.now() - startedAt };
    admitted += 1;
  }
}

describe('leased allowance', () => {
  it('makes at most one limiter call per 50 predictions once warm, and no call at all for most', async () => {
    const orgId = uniqueId('org');
    const limiter = limiterOf(orgId);
    const book = new LeaseBook(LEASE_MS);
    const call = subject(orgId, {
      quota: 1_000_000,
      rateLimits: [{ name: 'minute', limit: 100_000, periodSeconds: 60 }],
    });
    for (let i = 0; i < 300; i++) expect((await book.admit(limiter, call)).admitted).toBe(true);

    const before = limiter.calls;
    for (let i = 0; i < 2_000; i++) expect((await book.admit(limiter, call)).admitted).toBe(true);

    expect(limiter.calls - before).toBeLessThanOrEqual(2_000 / 50);
  });

  it('admits exactly 1,000 of 1,100 calls from 50 callers spread over 4 isolates against a 1,000-call quota', async () => {
    const orgId = uniqueId('org');
    const limiter = limiterOf(orgId);
    const isolates = Array.from({ length: 4 }, () => new LeaseBook(LEASE_MS));
    const callers = Array.from({ length: 50 }, (_, i) => ({ book: isolates[i % 4], call: subject(orgId) }));
    const givingBack = new Map<LeaseBook, Promise<void>>();

    const outcomes = await Promise.all(
      callers.map(async ({ book, call }) => {
        let admitted = 0;
        for (let i = 0; i < 22; i++) {
          if ((await book?.admit(limiter, call))?.admitted) admitted += 1;
          // As the edge does after each admission: give leases back as they end, in the background.
          if (book && !givingBack.has(book))
            givingBack.set(
              book,
              book.returnAsLeasesEnd(() => limiter),
            );
        }
        return admitted;
      }),
    );
    await Promise.all(givingBack.values());

    expect(outcomes.reduce((a, b) => a + b, 0)).toBe(1_000);
    expect(await storedUsed(orgId, 'org', 'org:monthly')).toBe(1_000);
    // Fewer limiter calls than calls, though the last units go one at a time to 50 keys.
    expect(limiter.calls).toBeLessThan(1_100);
  });

  it('holds a per-second limit in every second across 4 isolates', async () => {
    const orgId = uniqueId('org');
    const limiter = limiterOf(orgId);
    const isolates = Array.from({ length: 4 }, () => new LeaseBook(LEASE_MS));
    const call = subject(orgId, {
      quota: null,
      rateLimits: [{ name: 'second', limit: 10, periodSeconds: 1 }],
    });
    const admittedAt: number[] = [];
    const until = Date.now() + 2_500;

    await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const book = isolates[i % 4];
        while (Date.now() < until) {
          const outcome = await book?.admit(limiter, call);
          if (outcome?.admitted) admittedAt.push(outcome.nowMs);
          else await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }),
    );

    const perSecond = new Map<number, number>();
    for (const at of admittedAt)
      perSecond.set(Math.floor(at / 1000), (perSecond.get(Math.floor(at / 1000)) ?? 0) + 1);
    expect(Math.max(...perSecond.values())).toBe(10);
    expect(perSecond.size).toBeGreaterThanOrEqual(2);
  });

  it('strands at most one fair share per limit when an isolate dies, and a living isolate gives its share back', async () => {
    const orgId = uniqueId('org');
    const limiter = limiterOf(orgId);
    const call = subject(orgId, { quota: 1_000 });
    const dying = new LeaseBook(LEASE_MS);
    for (let i = 0; i < 100; i++) await dying.admit(limiter, call);
    // The isolate dies here: whatever it leased and did not spend stays counted at the limiter.
    const stranded = (await storedUsed(orgId, 'org', 'org:monthly')) - 100;
    expect(stranded).toBeGreaterThan(0);
    // One block at most: never more than a quarter of the quota (and MAX_BLOCK_UNITS).
    expect(stranded).toBeLessThanOrEqual(Math.min(MAX_BLOCK_UNITS, 1_000 / 4));

    let clock = Date.now();
    const living = new LeaseBook(LEASE_MS, () => clock);
    for (let i = 0; i < 10; i++) await living.admit(limiter, call);
    const heldBefore = await storedUsed(orgId, 'org', 'org:monthly');
    expect(heldBefore).toBeGreaterThan(100 + stranded + 10 - 1);

    clock += LEASE_MS + 1;
    await living.returnIdle(() => limiter);

    expect(await storedUsed(orgId, 'org', 'org:monthly')).toBe(100 + stranded + 10);
    expect(living.holdsAnything()).toBe(false);
  });

  it('waits for units another isolate still holds instead of refusing them, then refuses at once', async () => {
    const orgId = uniqueId('org');
    const limiter = limiterOf(orgId);
    const shortLeaseMs = 400;
    const call = subject(orgId, { quota: 100 });
    const quiet = new LeaseBook(shortLeaseMs);
    for (let i = 0; i < 20; i++) expect((await quiet.admit(limiter, call)).admitted).toBe(true);
    // Its callers went quiet with units of its last block unspent; it gives them back as its lease ends.
    const heldByQuiet = (await storedUsed(orgId, 'org', 'org:monthly')) - 20;
    expect(heldByQuiet).toBeGreaterThan(0);
    const givingBack = quiet.returnAsLeasesEnd(() => limiter);

    // Its waits are counted, not timed: a loaded CI machine's Durable Object round trip can outlast a wait.
    // (Whether it waits before its last admission depends on when the quiet isolate's lease ends; that it
    // got the units the quiet one held is what 20 + admitted = 100 shows.)
    let busyWaits = 0;
    const busy = new LeaseBook(shortLeaseMs, undefined, (ms) => {
      busyWaits += 1;
      return new Promise((resolve) => setTimeout(resolve, ms));
    });
    const { admitted } = await admitUntilRefused(busy, limiter, call);
    await givingBack;

    expect(20 + admitted).toBe(100);
    expect(await storedUsed(orgId, 'org', 'org:monthly')).toBe(100);
    // Nothing is held anywhere now: the next refusal does not wait.
    const waitsBefore = busyWaits;
    expect((await busy.admit(limiter, call)).admitted).toBe(false);
    expect(busyWaits).toBe(waitsBefore);
  });

  it('hears within a fraction of a lease that a quiet isolate has spent its block, and refuses then', async () => {
    const orgId = uniqueId('org');
    const limiter = limiterOf(orgId);
    const call = subject(orgId, { quota: 100 });
    const quiet = new LeaseBook(LEASE_MS);
    // Blocks of 1, 2 and 4 units: the fourth call takes the 4-unit block, which the limiter tracks as held.
    for (let i = 0; i < 4; i++) await quiet.admit(limiter, call);
    const givingBack = quiet.returnAsLeasesEnd(() => limiter, LEASE_MS);
    // Its background loop is asleep when the block's last unit goes.
    for (let i = 0; i < 3; i++) await quiet.admit(limiter, call);
    expect(await storedUsed(orgId, 'org', 'org:monthly')).toBe(7);

    const { admitted, refusedInMs } = await admitUntilRefused(new LeaseBook(LEASE_MS), limiter, call);

    expect(7 + admitted).toBe(100);
    expect(refusedInMs).toBeLessThan(LEASE_MS / 4);
    await givingBack;
  });

  it('waits at most a lease time and the grace for units of an isolate that died, then refuses', async () => {
    const orgId = uniqueId('org');
    const limiter = limiterOf(orgId);
    const shortLeaseMs = 400;
    const call = subject(orgId, { quota: 100 });
    const dying = new LeaseBook(shortLeaseMs);
    for (let i = 0; i < 20; i++) await dying.admit(limiter, call);
    const stranded = (await storedUsed(orgId, 'org', 'org:monthly')) - 20;
    expect(stranded).toBeGreaterThan(0);

    const living = new LeaseBook(shortLeaseMs);
    const startedAt = Date.now();
    const { admitted, refusal } = await admitUntilRefused(living, limiter, call);

    // The dead isolate's units stay counted (the stranding bound); the refusal came once its lease was over,
    // counted from the first admission as before the helper (every admission and the wait together).
    expect(20 + admitted + stranded).toBe(100);
    expect(Date.now() - startedAt).toBeLessThan(shortLeaseMs + HELD_GRACE_MS + 1_000);
    expect(refusal.heldElsewhereUntilMs).toBeUndefined();
  });

  it('gives a refunded unit back with the next limiter call once its block has expired', async () => {
    const orgId = uniqueId('org');
    const limiter = limiterOf(orgId);
    const call = subject(orgId, { quota: 5 });
    let clock = Date.now();
    const book = new LeaseBook(LEASE_MS, () => clock);
    const first = await book.admit(limiter, call);
    if (!first.admitted || first.quotaWindowStartMs === null) throw new Error('expected an admission');

    clock += LEASE_MS + 1;
    book.refund(orgId, first.quotaWindowStartMs);
    await book.admit(limiter, call);

    // The refunded unit went back and the new call took one: one unit used in all.
    expect(await storedUsed(orgId, 'org', 'org:monthly')).toBe(1);
  });
});
