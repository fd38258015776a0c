import type { ApiKeyRateLimit } from '@meridian/protocol';
import { QUOTA_POLICY, QUOTA_SCOPE } from './check-limits.js';
import { alignedWindow, calendarMonthUtc, type WindowState } from './fixed-window.js';
import {
  type LeaseBlock,
  type LeaseRequest,
  type LeaseResult,
  type LeaseReturn,
  MAX_BLOCK_UNITS,
} from './grant-lease.js';
import { HELD_GRACE_MS } from './held-blocks.js';

// Leased allowance, the isolate's side. Each isolate keeps, per org, the blocks its org's limiter granted
// it and spends them locally: an admission costs a limiter call only when a block runs out or expires.
// Guarantees (docs/adr/0006-leased-limits.md):
// - never more admissions in a window than its limit: the limiter counts a block as used when it grants it;
// - a refusal by one limit consumes nothing from the others: local units are taken only when every limit
//   of the call has one, and the limiter grants all the blocks a call lacks or none;
// - stranded allowance: an isolate that dies loses at most its unspent blocks, at most one per limit, each at
//   most MAX_BLOCK_UNITS and a quarter of what was left when granted, counted as used until its window ends.
//   A living isolate gives unspent units back as soon as its lease ends.
// - no refusal while units may be left: a call refused while other isolates still hold blocks of the window
//   (the limiter tracks them, held-blocks.ts) waits for those leases to end and their units to come back.

/** The org limiter as the book sees it: a Durable Object stub in the Worker, anything alike in tests. */
export interface Limiter {
  lease(request: LeaseRequest): Promise<LeaseResult>;
  giveBack(returns: LeaseReturn[]): Promise<void>;
}

/** One call's limits: the subject's named limits and its org's monthly quota. */
export interface LimitSubject {
  orgId: string;
  /** `key:<keyId>` or `user:<userId>`. */
  subject: string;
  rateLimits: ApiKeyRateLimit[];
  monthlyCallQuota: number | null;
}

export type LocalAdmission =
  | {
      admitted: true;
      /** Every limited window as this isolate knows it (other isolates' blocks count as used). */
      windows: WindowState[];
      nowMs: number;
      /** The quota window the call's unit came from (for a refund), or null when unlimited. */
      quotaWindowStartMs: number | null;
    }
  | (Extract<LeaseResult, { granted: false }> & { admitted: false });

interface Lease extends LeaseBlock {
  spent: number;
  grantedAtMs: number;
  expiresAtMs: number;
  /** Blocks merged into this lease that the limiter tracks as held and that are not closed yet. */
  heldIds: string[];
}

interface Needed {
  scope: string;
  policy: string;
  limit: number;
  startMs: number;
  endMs: number;
}

/** Rounds of "lease, then spend" one admission may take before giving up (each round makes progress). */
const MAX_ROUNDS = 100;
/** After a held block's lease ends, time for its isolate to give it back before asking again. */
const RECHECK_AFTER_LEASE_END_MS = 200;
/** Shortest wait between asks while units are held elsewhere. */
const MIN_RECHECK_MS = 100;
/**
 * First wait before asking again while units are held elsewhere (doubling after): a holder whose every
 * unit is spent says so within OWED_FLUSH_MS, long before its lease ends.
 */
const FIRST_RECHECK_MS = 300;
/**
 * How soon units owed to a limiter (closed blocks, refunds) go back when no lease call carries them; a
 * round with nothing owed and no lease ended makes no call.
 */
const OWED_FLUSH_MS = 250;

export class LeaseBook {
  private readonly leases = new Map<string, Lease>();
  /** Units to give back to each org's limiter with its next call. */
  private readonly owed = new Map<string, LeaseReturn[]>();
  /** One limiter call at a time per org and subject; concurrent admissions wait for it. */
  private readonly inFlight = new Map<string, Promise<LeaseResult>>();
  /** Units to ask for next, per lease: doubles while blocks run out fast. */
  private readonly nextWant = new Map<string, number>();
  /** Names this isolate to the limiters (they size blocks by how many isolates lease). */
  private readonly isolateId = crypto.randomUUID();
  /** Counted since the isolate started; the edge's stats route reads them. */
  readonly stats = { limiterCalls: 0, admissions: 0 };

  /** The limiter's clock minus ours, as last seen: windows are the limiter's, wherever this isolate runs. */
  private skewMs = 0;

  constructor(
    private readonly leaseMs: number,
    private readonly clock: () => number = () => Date.now(),
    private readonly sleep: (ms: number) => Promise<void> = (ms) =>
      new Promise((resolve) => setTimeout(resolve, ms)),
  ) {}

  private now(): number {
    return this.clock() + this.skewMs;
  }

  /**
   * Admits one call if every limit has a unit, leasing what this isolate lacks; consumes nothing on a refusal.
   * A refusal while other isolates may still hold unspent units of the refused windows waits for their
   * leases to end (at most a lease time and HELD_GRACE_MS) and asks again.
   */
  async admit(limiter: Limiter, call: LimitSubject): Promise<LocalAdmission> {
    // Waits do not count as rounds: they are bounded by time (and, whatever the clock does, by count).
    const maxWaits = Math.ceil((this.leaseMs + HELD_GRACE_MS) / MIN_RECHECK_MS);
    let rounds = 0;
    let waits = 0;
    let waitUntilMs: number | undefined;
    while (rounds < MAX_ROUNDS) {
      const nowMs = this.now();
      const needed = this.lacking(call, nowMs);
      if (needed.length === 0) return this.spend(call, nowMs);
      const result = await this.leaseFor(limiter, call, needed);
      const afterMs = this.now();
      if (result.granted || this.lacking(call, afterMs).length === 0) {
        rounds += 1;
        continue;
      }
      waitUntilMs ??= afterMs + this.leaseMs + HELD_GRACE_MS;
      const heldUntilMs = result.heldElsewhereUntilMs;
      if (heldUntilMs === undefined || afterMs >= waitUntilMs || waits >= maxWaits)
        return { ...result, admitted: false };
      waits += 1;
      const untilLeaseEndMs = heldUntilMs + RECHECK_AFTER_LEASE_END_MS - afterMs;
      const backoffMs = FIRST_RECHECK_MS * 2 ** (waits - 1);
      const recheckMs = Math.max(MIN_RECHECK_MS, Math.min(untilLeaseEndMs, backoffMs));
      await this.sleep(Math.min(recheckMs, waitUntilMs - afterMs));
    }
    throw new Error('limiter granted nothing usable after many rounds');
  }

  /**
   * Gives a failed call's quota unit back: to the local block while the limiter counts that block as held
   * (so another isolate refused meanwhile waits for it), else straight to the limiter.
   */
  refund(orgId: string, quotaWindowStartMs: number): void {
    const lease = this.leases.get(leaseKey(orgId, QUOTA_SCOPE, QUOTA_POLICY));
    const live =
      lease !== undefined && lease.startMs === quotaWindowStartMs && this.now() < lease.expiresAtMs;
    if (live && lease.spent > 0 && lease.heldIds.length > 0) {
      lease.spent -= 1;
      return;
    }
    this.owe(orgId, { scope: QUOTA_SCOPE, policy: QUOTA_POLICY, startMs: quotaWindowStartMs, units: 1 });
  }

  /** Gives back what idle leases hold unspent (and refunds owed), one limiter call per org that owes. */
  async returnIdle(limiterFor: (orgId: string) => Limiter): Promise<void> {
    const nowMs = this.now();
    for (const [key, lease] of this.leases) {
      if (nowMs < lease.expiresAtMs) continue;
      this.leases.delete(key);
      this.oweUnspent(orgOf(key), lease, nowMs);
    }
    const owing = [...this.owed.entries()];
    this.owed.clear();
    await Promise.all(
      owing.map(async ([orgId, returns]) => {
        this.stats.limiterCalls += 1;
        try {
          await limiterFor(orgId).giveBack(returns);
        } catch {
          // Not given back now: kept for the org's next limiter call.
          for (const back of returns) this.owe(orgId, back);
        }
      }),
    );
  }

  /** Whether any lease or return is waiting to go back (so an idle return is worth scheduling). */
  holdsAnything(): boolean {
    return this.leases.size > 0 || this.owed.size > 0;
  }

  /**
   * Gives leases back as they end, and owed units soon after they are owed, until nothing is held or
   * `forMs` has passed (a Worker's waitUntil is bounded; the next admission starts another round).
   */
  async returnAsLeasesEnd(limiterFor: (orgId: string) => Limiter, forMs = 3 * this.leaseMs): Promise<void> {
    const stopAtMs = this.now() + forMs;
    while (this.holdsAnything() && this.now() < stopAtMs) {
      // Wakes at least every OWED_FLUSH_MS: a close owed while sleeping must not wait for a lease's end.
      const nextMs = Math.min(this.now() + OWED_FLUSH_MS, this.earliestExpiryMs());
      await this.sleep(Math.max(0, Math.min(nextMs, stopAtMs) - this.now()) + 1);
      await this.returnIdle(limiterFor);
    }
  }

  private earliestExpiryMs(): number {
    let earliest = Number.POSITIVE_INFINITY;
    for (const lease of this.leases.values()) earliest = Math.min(earliest, lease.expiresAtMs);
    return earliest;
  }

  private lacking(call: LimitSubject, nowMs: number): Needed[] {
    const needed: Needed[] = [];
    for (const window of limitedWindowsOf(call, nowMs)) {
      const key = leaseKey(call.orgId, window.scope, window.policy);
      const lease = this.leases.get(key);
      const live = lease !== undefined && lease.startMs === window.startMs && nowMs < lease.expiresAtMs;
      if (lease && !live) {
        this.leases.delete(key);
        this.oweUnspent(call.orgId, lease, nowMs);
      }
      if (!live || lease.spent >= lease.units) needed.push(window);
    }
    return needed;
  }

  private spend(call: LimitSubject, nowMs: number): LocalAdmission {
    const windows: WindowState[] = [];
    let quotaWindowStartMs: number | null = null;
    for (const window of limitedWindowsOf(call, nowMs)) {
      const key = leaseKey(call.orgId, window.scope, window.policy);
      const lease = this.leases.get(key);
      if (!lease) throw new Error(`no lease for ${key} after checking`);
      lease.spent += 1;
      if (lease.spent === lease.units) {
        this.learnRate(key, lease, nowMs);
        // Every unit is spent: the limiter need not count this block as held any longer, nor this isolate
        // keep it (a later grant starts a new lease; what it would merge into has nothing left).
        this.closeHeld(call.orgId, lease, 0);
        this.leases.delete(key);
      }
      if (window.scope === QUOTA_SCOPE) quotaWindowStartMs = lease.startMs;
      // Other isolates' blocks count as used: `used` is what this isolate cannot spend.
      const used = lease.usedAfter - (lease.units - lease.spent);
      windows.push({
        policy: lease.policy,
        limit: lease.limit,
        startMs: lease.startMs,
        endMs: lease.endMs,
        used,
      });
    }
    this.stats.admissions += 1;
    return { admitted: true, windows, nowMs, quotaWindowStartMs };
  }

  /** One limiter call per org and subject at a time; callers that find one in flight wait for it. */
  private leaseFor(limiter: Limiter, call: LimitSubject, needed: Needed[]): Promise<LeaseResult> {
    const key = flightKey(call);
    const running = this.inFlight.get(key);
    if (running) return running;
    const returns = this.owed.get(call.orgId) ?? [];
    this.owed.delete(call.orgId);
    const want = Object.fromEntries(
      needed.map((n) => [n.policy, this.nextWant.get(leaseKey(call.orgId, n.scope, n.policy)) ?? 1]),
    );
    this.stats.limiterCalls += 1;
    const flight = limiter
      .lease({
        subject: call.subject,
        rateLimits: call.rateLimits,
        monthlyCallQuota: call.monthlyCallQuota,
        want,
        returns,
        isolateId: this.isolateId,
        leaseMs: this.leaseMs,
      })
      .then((result) => {
        this.skewMs = result.nowMs - this.clock();
        if (result.granted) for (const block of result.blocks) this.install(call.orgId, block, result.nowMs);
        return result;
      })
      .catch((err: unknown) => {
        for (const back of returns) this.owe(call.orgId, back);
        throw err;
      })
      .finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, flight);
    return flight;
  }

  private install(orgId: string, block: LeaseBlock, grantedAtMs: number): void {
    const key = leaseKey(orgId, block.scope, block.policy);
    const expiresAtMs = Math.min(block.endMs, grantedAtMs + this.leaseMs);
    const current = this.leases.get(key);
    const heldIds = block.id === undefined ? [] : [block.id];
    if (current && current.startMs === block.startMs) {
      current.units += block.units;
      current.usedAfter = block.usedAfter;
      current.expiresAtMs = expiresAtMs;
      current.heldIds.push(...heldIds);
      return;
    }
    if (current) this.oweUnspent(orgId, current, grantedAtMs);
    this.leases.set(key, { ...block, spent: 0, grantedAtMs, expiresAtMs, heldIds });
  }

  /** Sizes the next block from how fast this one went: twice as big when it lasted under half a lease. */
  private learnRate(key: string, lease: Lease, nowMs: number): void {
    const fast = nowMs - lease.grantedAtMs < this.leaseMs / 2;
    this.nextWant.set(key, Math.min(MAX_BLOCK_UNITS, fast ? lease.units * 2 : Math.max(1, lease.units)));
  }

  private oweUnspent(orgId: string, lease: Lease, nowMs: number): void {
    // A block of a passed window is worth nothing to give back: that window's counter is gone.
    const unspent = nowMs < lease.endMs ? lease.units - lease.spent : 0;
    this.closeHeld(orgId, lease, unspent);
    this.nextWant.set(leaseKey(orgId, lease.scope, lease.policy), Math.max(1, lease.spent));
  }

  /** Owes `units` of the lease back, closing the blocks of it the limiter tracks as held. */
  private closeHeld(orgId: string, lease: Lease, units: number): void {
    if (units <= 0 && lease.heldIds.length === 0) return;
    const closes = lease.heldIds.splice(0);
    const back = {
      scope: lease.scope,
      policy: lease.policy,
      startMs: lease.startMs,
      units: Math.max(0, units),
    };
    this.owe(orgId, closes.length > 0 ? { ...back, closes } : back);
  }

  private owe(orgId: string, back: LeaseReturn): void {
    const list = this.owed.get(orgId) ?? [];
    const same = list.find(
      (r) => r.scope === back.scope && r.policy === back.policy && r.startMs === back.startMs,
    );
    if (same) {
      same.units += back.units;
      if (back.closes?.length) same.closes = [...(same.closes ?? []), ...back.closes];
    } else list.push({ ...back, ...(back.closes ? { closes: [...back.closes] } : {}) });
    this.owed.set(orgId, list);
  }
}

function flightKey(call: LimitSubject): string {
  return `${call.orgId}\n${call.subject}`;
}

function leaseKey(orgId: string, scope: string, policy: string): string {
  return `${orgId}\n${scope}\n${policy}`;
}

function orgOf(key: string): string {
  return key.slice(0, key.indexOf('\n'));
}

/** The call's limited windows now (unlimited ones need no lease), named limits first, the quota last. */
function limitedWindowsOf(call: LimitSubject, nowMs: number): Needed[] {
  const windows: Needed[] = call.rateLimits.map((limit) => ({
    scope: call.subject,
    policy: limit.name,
    limit: limit.limit,
    ...alignedWindow(limit.periodSeconds, nowMs),
  }));
  if (call.monthlyCallQuota !== null) {
    const month = calendarMonthUtc(nowMs);
    windows.push({
      scope: QUOTA_SCOPE,
      policy: QUOTA_POLICY,
      limit: call.monthlyCallQuota,
      startMs: month.startMs,
      endMs: month.endMs,
    });
  }
  return windows;
}
