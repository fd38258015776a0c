import { describe, expect, it } from 'vitest';
import {
  alignedWindow,
  calendarMonthUtc,
  decide,
  usedIn,
  type WindowState,
} from '../src/limits/fixed-window.js';
import { rateLimitHeaders } from '../src/limits/rate-limit-headers.js';

const T = Date.UTC(2026, 10, 23, 14, 5, 30); // 2026-11-23T14:05:30Z

function window(policy: string, limit: number | null, used: number, periodSeconds = 60): WindowState {
  return { policy, limit, used, ...alignedWindow(periodSeconds, T) };
}

describe('windows', () => {
  it('aligns a period to the epoch', () => {
    expect(alignedWindow(60, T)).toEqual({
      startMs: Date.UTC(2026, 10, 23, 14, 5),
      endMs: Date.UTC(2026, 10, 23, 14, 6),
    });
    expect(alignedWindow(3600, T).startMs).toBe(Date.UTC(2026, 10, 23, 14));
  });

  it('takes the calendar month in UTC, across a year end and a leap February', () => {
    expect(calendarMonthUtc(Date.UTC(2026, 11, 31, 23, 59, 59))).toEqual({
      startMs: Date.UTC(2026, 11, 1),
      endMs: Date.UTC(2027, 0, 1),
      month: '2026-12',
    });
    const feb = calendarMonthUtc(Date.UTC(2028, 1, 29, 12));
    expect(feb.month).toBe('2028-02');
    expect((feb.endMs - feb.startMs) / 86_400_000).toBe(29);
  });

  it('counts a stored counter only in the window it was written for', () => {
    const current = alignedWindow(60, T);
    expect(usedIn(current, { ...current, used: 7 })).toBe(7);
    expect(usedIn(current, { startMs: current.startMs - 60_000, endMs: current.startMs, used: 7 })).toBe(0);
    // Same start, different length: the limit's period was changed, so the count starts over.
    expect(usedIn(current, { startMs: current.startMs, endMs: current.startMs + 3_600_000, used: 7 })).toBe(
      0,
    );
    expect(usedIn(current, undefined)).toBe(0);
  });
});

describe('decide', () => {
  it('admits when every window has room and consumes one unit of each', () => {
    const decision = decide([window('a', 2, 1), window('b', 10, 0), window('quota', null, 41)], T);

    expect(decision.admitted).toBe(true);
    expect(decision.windows.map((w) => w.used)).toEqual([2, 1, 42]);
  });

  it('refuses when any window is full, consuming nothing, and waits for the last refusing window', () => {
    const hourly = window('hourly', 5, 5, 3600);
    const decision = decide([window('a', 2, 2), window('b', 10, 3), hourly], T);

    expect(decision.admitted).toBe(false);
    if (decision.admitted) return;
    expect(decision.rejected.map((w) => w.policy)).toEqual(['a', 'hourly']);
    expect(decision.windows.map((w) => w.used)).toEqual([2, 3, 5]);
    expect(decision.retryAfterSeconds).toBe(Math.ceil((hourly.endMs - T) / 1000));
  });

  it('never refuses on an unlimited window', () => {
    expect(decide([window('quota', null, 1e9)], T).admitted).toBe(true);
  });

  it('refuses everything under a zero quota, with at least one second to wait', () => {
    const justBeforeEnd = alignedWindow(60, T).endMs - 1;
    const decision = decide([window('quota', 0, 0)], justBeforeEnd);

    expect(decision).toMatchObject({ admitted: false, retryAfterSeconds: 1 });
  });
});

describe('rateLimitHeaders', () => {
  it('lists every limited window as IETF RateLimit-Policy and RateLimit items', () => {
    const headers = rateLimitHeaders([window('per-minute', 100, 59), window('hourly', 1000, 1000, 3600)], T);

    expect(headers).toEqual({
      'RateLimit-Policy': '"per-minute";q=100;w=60, "hourly";q=1000;w=3600',
      RateLimit: '"per-minute";r=41;t=30, "hourly";r=0;t=3270',
    });
  });

  it('leaves unlimited windows out, and sends nothing when nothing is limited', () => {
    expect(rateLimitHeaders([window('org:monthly', null, 5)], T)).toEqual({});
  });
});
