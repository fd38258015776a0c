import type { Caller } from '../caller.js';
import type { Env } from '../env.js';
import { EdgeError } from '../errors.js';
import { UsageGroupCommit } from '../usage/usage-group-commit.js';
import { minuteOf } from '../usage/usage-store.js';
import { QUOTA_POLICY } from './check-limits.js';
import type { WindowState } from './fixed-window.js';
import { LeaseBook, type Limiter } from './lease-book.js';
import { rateLimitHeaders } from './rate-limit-headers.js';

/** An admitted call: headers to send with its response, and what the route reports once it knows the outcome. */
export interface Admission {
  /** RateLimit-Policy / RateLimit with what is left after this call (empty when nothing is limited). */
  headers: Record<string, string>;
  /**
   * The call was not served (upstream failed): its quota unit goes back, its rate-limit units do not.
   * A served forwarded call needs no report: the agent that answered it records it (signed usage identity).
   */
  failed(): void;
  /**
   * The call was served here (the response cache), so the edge records it: resolves once the record is
   * durable (the org limiter writes concurrent calls of this isolate in one group); 503 when it cannot be,
   * and then the call is not served.
   */
  servedAtEdge(outcome: {
    deploymentId: string;
    bytesIn: number;
    bytesOut: number;
    /** The caller's Idempotency-Key: the call is recorded under it, billed once with its other answers. */
    idempotencyKey?: string | undefined;
  }): Promise<void>;
}

const DEFAULT_LEASE_SECONDS = 5;

// Isolate state: the allowance this isolate holds for each org, and its usage groups.
let book: LeaseBook | undefined;
const usageGroups = new UsageGroupCommit();
let idleReturnScheduled = false;

function leaseBook(env: Env): LeaseBook {
  book ??= new LeaseBook(leaseSeconds(env.LIMIT_LEASE_SECONDS) * 1000);
  return book;
}

/** LIMIT_LEASE_SECONDS (default 5): how long a block may be spent before its unspent units go back. */
export function leaseSeconds(raw: string | undefined): number {
  if (raw === undefined || raw === '') return DEFAULT_LEASE_SECONDS;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new Error(`LIMIT_LEASE_SECONDS must be a positive number, got ${JSON.stringify(raw)}`);
  return seconds;
}

/** Admissions and limiter calls this isolate has made since it started (the stats route, benchmarks). */
export function limiterStats(): { admissions: number; limiterCalls: number } {
  return { ...(book?.stats ?? { admissions: 0, limiterCalls: 0 }) };
}

/** The org's limiter; its stub is made only when a call reaches it (most admissions never do). */
function limiterFor(env: Env, orgId: string): Limiter {
  const stub = () => env.ORG_LIMITER.get(env.ORG_LIMITER.idFromName(orgId));
  return {
    lease: (request) => stub().lease(request),
    giveBack: (returns) => stub().giveBack(returns),
  };
}

/**
 * Checks every named limit of the caller and its org's monthly quota against the allowance this isolate
 * has leased, leasing more from the org's limiter when a block runs out: admitted, one unit of each is
 * consumed; refused (429 too_many_requests, with Retry-After and RateLimit headers), none is. 503 when the
 * limiter cannot be reached and no allowance is held: the quota is never guessed. A call refused while other
 * isolates still hold unspent units waits for them (LeaseBook.admit). With `ctx`, unspent allowance goes
 * back to the limiter as this isolate's leases end.
 */
export async function admit(env: Env, caller: Caller, ctx?: ExecutionContext): Promise<Admission> {
  const leases = leaseBook(env);
  let outcome: Awaited<ReturnType<LeaseBook['admit']>>;
  try {
    outcome = await leases.admit(limiterFor(env, caller.orgId), {
      orgId: caller.orgId,
      subject: caller.keyId !== null ? `key:${caller.keyId}` : `user:${caller.userId ?? ''}`,
      rateLimits: caller.rateLimits,
      monthlyCallQuota: caller.org.monthlyCallQuota,
    });
  } catch (err) {
    log('error', 'org limiter unreachable', caller.orgId, err);
    throw new EdgeError('unavailable', 'Rate limiting is unavailable; retry shortly', { 'Retry-After': '1' });
  }

  if (!outcome.admitted) {
    throw new EdgeError('too_many_requests', refusal(outcome.rejected, outcome.retryAfterSeconds), {
      ...rateLimitHeaders(outcome.windows, outcome.nowMs),
      'Retry-After': String(outcome.retryAfterSeconds),
    });
  }
  if (ctx && !idleReturnScheduled && leases.holdsAnything()) scheduleIdleReturn(env, leases, ctx);

  let settled = false;
  const { nowMs, quotaWindowStartMs } = outcome;
  return {
    headers: rateLimitHeaders(outcome.windows, nowMs),
    failed() {
      if (settled) return;
      settled = true;
      if (quotaWindowStartMs !== null) leases.refund(caller.orgId, quotaWindowStartMs);
    },
    async servedAtEdge(result) {
      if (settled) return;
      settled = true;
      const record = {
        orgId: caller.orgId,
        keyId: caller.keyId,
        userId: caller.keyId === null ? caller.userId : null,
        deploymentId: result.deploymentId,
        minute: minuteOf(nowMs),
        calls: 1,
        bytesIn: Math.max(0, Math.round(result.bytesIn)),
        bytesOut: Math.max(0, Math.round(result.bytesOut)),
        ...(result.idempotencyKey === undefined ? {} : { idempotencyKey: result.idempotencyKey }),
      };
      try {
        const stub = env.ORG_LIMITER.get(env.ORG_LIMITER.idFromName(caller.orgId));
        await usageGroups.record(caller.orgId, record, (records) => stub.record(records));
      } catch (err) {
        log('error', 'usage not recorded; the call is not served', caller.orgId, err, record);
        if (quotaWindowStartMs !== null) leases.refund(caller.orgId, quotaWindowStartMs);
        throw new EdgeError('unavailable', 'The call could not be recorded; retry shortly', {
          'Retry-After': '1',
        });
      }
    },
  };
}

/** Gives leases back as they end (one limiter call per org that holds any), in the background. */
function scheduleIdleReturn(env: Env, leases: LeaseBook, ctx: ExecutionContext): void {
  idleReturnScheduled = true;
  ctx.waitUntil(
    leases
      .returnAsLeasesEnd((orgId) => limiterFor(env, orgId))
      .catch((err: unknown) => log('error', 'unspent allowance not given back', '', err))
      .finally(() => {
        idleReturnScheduled = false;
      }),
  );
}

function refusal(rejected: WindowState[], retryAfterSeconds: number): string {
  const reasons = rejected.map((w) =>
    w.policy === QUOTA_POLICY
      ? `the monthly call quota of ${w.limit} calls is used up until ${new Date(w.endMs).toISOString()}`
      : `rate limit "${w.policy}" (${w.limit} requests per ${(w.endMs - w.startMs) / 1000} s) is exhausted`,
  );
  // A wait of days reads better as the date above than as millions of seconds; Retry-After still carries it.
  const retry = retryAfterSeconds <= 3600 ? ` Retry in ${retryAfterSeconds} s.` : '';
  const upgrade = rejected.some((w) => w.policy === QUOTA_POLICY)
    ? ' A larger plan raises the quota: `meridian plan set pro`, the dashboard’s Usage page, or `PUT /v1/billing/plan`.'
    : '';
  return `Too many requests: ${reasons.join('; ')}.${retry}${upgrade}`;
}

function log(level: 'error', message: string, orgId: string, err: unknown, extra?: object): void {
  console[level](
    JSON.stringify({
      level,
      message,
      orgId,
      error: err instanceof Error ? err.message : String(err),
      ...extra,
    }),
  );
}
