import type { ApiKeyRateLimit } from '@meridian/protocol';
import type { CounterStore } from './counter-store.js';
import { alignedWindow, calendarMonthUtc, decide, usedIn, type WindowState } from './fixed-window.js';

/** The org-wide quota's scope and its policy name (`:` keeps it apart from key limit names). */
export const QUOTA_SCOPE = 'org';
export const QUOTA_POLICY = 'org:monthly';

/** One request to admit: the caller's named limits and its org's monthly call quota. */
export interface LimitRequest {
  /** Whose limits: `key:<keyId>` or `user:<userId>`. */
  subject: string;
  rateLimits: ApiKeyRateLimit[];
  /** Calls per calendar month (UTC); null: unlimited, still counted. */
  monthlyCallQuota: number | null;
}

export type LimitCheck =
  | { admitted: true; windows: WindowState[]; nowMs: number; quotaWindowStartMs: number }
  | {
      admitted: false;
      windows: WindowState[];
      rejected: WindowState[];
      retryAfterSeconds: number;
      nowMs: number;
    };

/**
 * Checks every named limit of the subject and the org quota together and, only if all have room,
 * consumes one unit of each. Synchronous: inside the Durable Object no other request runs in between.
 */
export function checkAndConsume(store: CounterStore, request: LimitRequest, nowMs: number): LimitCheck {
  const keyed = request.rateLimits.map((limit) => {
    const window = alignedWindow(limit.periodSeconds, nowMs);
    const used = usedIn(window, store.read(request.subject, limit.name));
    return { scope: request.subject, state: { policy: limit.name, limit: limit.limit, ...window, used } };
  });
  const month = calendarMonthUtc(nowMs);
  const quota = {
    scope: QUOTA_SCOPE,
    state: {
      policy: QUOTA_POLICY,
      limit: request.monthlyCallQuota,
      startMs: month.startMs,
      endMs: month.endMs,
      used: usedIn(month, store.read(QUOTA_SCOPE, QUOTA_POLICY)),
    },
  };
  const all = [...keyed, quota];
  const decision = decide(
    all.map((entry) => entry.state),
    nowMs,
  );
  if (!decision.admitted) return { ...decision, nowMs };

  decision.windows.forEach((window, index) => {
    const scope = all[index]?.scope;
    if (scope !== undefined) store.write(scope, window.policy, window);
  });
  return { admitted: true, windows: decision.windows, nowMs, quotaWindowStartMs: month.startMs };
}
