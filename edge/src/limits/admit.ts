import type { Caller } from '../caller.js';
import type { Env } from '../env.js';
import { EdgeError } from '../errors.js';
import { QUOTA_POLICY } from './check-limits.js';
import type { WindowState } from './fixed-window.js';
import { rateLimitHeaders } from './rate-limit-headers.js';

/** An admitted call: headers to send with its response, and the report the route files after it. */
export interface Admission {
  /** RateLimit-Policy / RateLimit with what is left after this call (empty when nothing is limited). */
  headers: Record<string, string>;
  /**
   * Call after the response (waitUntil). ok: counted as usage. Not ok (upstream failed): the quota unit is
   * given back, the rate-limit units are not. Never rejects; only the first call has an effect.
   */
  complete(outcome: { deploymentId: string; ok: boolean; bytesIn: number; bytesOut: number }): Promise<void>;
}

/**
 * Checks every named limit of the caller and its org's monthly quota in one call to the org's limiter,
 * atomically: admitted, one unit of each is consumed; refused (429 too_many_requests, with Retry-After and
 * RateLimit headers), none is. 503 when the limiter cannot be reached: the quota is never guessed.
 */
export async function admit(env: Env, caller: Caller): Promise<Admission> {
  const limiter = env.ORG_LIMITER.get(env.ORG_LIMITER.idFromName(caller.orgId));
  let check: Awaited<ReturnType<typeof limiter.admit>>;
  try {
    check = await limiter.admit({
      subject: caller.keyId !== null ? `key:${caller.keyId}` : `user:${caller.userId ?? ''}`,
      rateLimits: caller.rateLimits,
      monthlyCallQuota: caller.org.monthlyCallQuota,
    });
  } catch (err) {
    log('error', 'org limiter unreachable', caller.orgId, err);
    throw new EdgeError('unavailable', 'Rate limiting is unavailable; retry shortly', { 'Retry-After': '1' });
  }

  if (!check.admitted) {
    throw new EdgeError('too_many_requests', refusal(check.rejected, check.retryAfterSeconds), {
      ...rateLimitHeaders(check.windows, check.nowMs),
      'Retry-After': String(check.retryAfterSeconds),
    });
  }

  let completed = false;
  return {
    headers: rateLimitHeaders(check.windows, check.nowMs),
    async complete(outcome) {
      if (completed) return;
      completed = true;
      try {
        await limiter.complete({
          orgId: caller.orgId,
          keyId: caller.keyId,
          userId: caller.keyId === null ? caller.userId : null,
          deploymentId: outcome.deploymentId,
          ok: outcome.ok,
          bytesIn: Math.max(0, Math.round(outcome.bytesIn)),
          bytesOut: Math.max(0, Math.round(outcome.bytesOut)),
          admittedAtMs: check.nowMs,
          quotaWindowStartMs: check.quotaWindowStartMs,
        });
      } catch (err) {
        // After the response nobody can be told; the operator can, with the org and outcome.
        log('error', 'usage not recorded', caller.orgId, err, outcome);
      }
    },
  };
}

function refusal(rejected: WindowState[], retryAfterSeconds: number): string {
  const reasons = rejected.map((w) =>
    w.policy === QUOTA_POLICY
      ? `the monthly call quota of ${w.limit} calls is used up until ${new Date(w.endMs).toISOString()}`
      : `rate limit "${w.policy}" (${w.limit} requests per ${(w.endMs - w.startMs) / 1000} s) is exhausted`,
  );
  return `Too many requests: ${reasons.join('; ')}. Retry in ${retryAfterSeconds} s.`;
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
