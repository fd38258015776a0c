// Limiter maths: pure functions over counters, no storage and no clock of their own.
//
// Algorithm: fixed windows. Each named limit {limit, periodSeconds} counts admissions in the window
// [k·period, (k+1)·period) aligned to the Unix epoch; the monthly quota counts in the calendar month (UTC).
// Why fixed windows rather than a sliding window or token bucket:
// - Exact with O(1) state per limit (one counter and its window), so the Durable Object can keep every
//   limit of every key in a tiny SQLite row and check them all atomically.
// - The quota is a calendar window by definition; one model covers both.
// - The RateLimit headers are honest: `r` is the exact remaining count and `t` the exact time to reset,
//   not an estimate (a sliding-window counter only approximates both).
// Bound: at most `limit` admissions in every aligned window. The known cost: a caller may use a full
// window at its very end and the next at its very start, so any rolling interval of one period sees at
// most 2·limit. Where that matters, a key adds a second, shorter limit (e.g. 100/min and 10/s).

/** One limit as it stands at an instant: the current window and what has been admitted in it. */
export interface WindowState {
  /** Name shown in RateLimit headers and 429 messages. */
  policy: string;
  /** Admissions allowed per window; null: unlimited (counted, never refused). */
  limit: number | null;
  startMs: number;
  endMs: number;
  used: number;
}

/** A counter as stored: the window it belongs to and its count. */
export interface StoredCounter {
  startMs: number;
  endMs: number;
  used: number;
}

export type Decision =
  | { admitted: true; windows: WindowState[] }
  | { admitted: false; windows: WindowState[]; rejected: WindowState[]; retryAfterSeconds: number };

/** The epoch-aligned window of `periodSeconds` that contains `nowMs`. */
export function alignedWindow(periodSeconds: number, nowMs: number): { startMs: number; endMs: number } {
  const periodMs = periodSeconds * 1000;
  const startMs = Math.floor(nowMs / periodMs) * periodMs;
  return { startMs, endMs: startMs + periodMs };
}

/** The calendar month (UTC) that contains `nowMs`, labelled `YYYY-MM`. */
export function calendarMonthUtc(nowMs: number): { startMs: number; endMs: number; month: string } {
  const now = new Date(nowMs);
  const year = now.getUTCFullYear();
  const monthIndex = now.getUTCMonth();
  return {
    startMs: Date.UTC(year, monthIndex, 1),
    endMs: Date.UTC(year, monthIndex + 1, 1),
    month: `${year}-${String(monthIndex + 1).padStart(2, '0')}`,
  };
}

/** What a stored counter contributes to `window`: nothing once its window has passed (or changed length). */
export function usedIn(
  window: { startMs: number; endMs: number },
  stored: StoredCounter | undefined,
): number {
  return stored !== undefined && stored.startMs === window.startMs && stored.endMs === window.endMs
    ? stored.used
    : 0;
}

/**
 * Admits one request when every window has room, consuming one unit from each; otherwise consumes nothing
 * and reports every window that refused and how long until all of them have reset.
 */
export function decide(windows: WindowState[], nowMs: number): Decision {
  const rejected = windows.filter((w) => w.limit !== null && w.used + 1 > w.limit);
  if (rejected.length === 0)
    return { admitted: true, windows: windows.map((w) => ({ ...w, used: w.used + 1 })) };
  const waitMs = Math.max(...rejected.map((w) => w.endMs - nowMs));
  return { admitted: false, windows, rejected, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
}

/** Remaining admissions in a window (never negative); Infinity when unlimited. */
export function remaining(window: WindowState): number {
  return window.limit === null ? Number.POSITIVE_INFINITY : Math.max(0, window.limit - window.used);
}
