import { remaining, type WindowState } from './fixed-window.js';

/**
 * Rate-limit response headers in the IETF form (draft-ietf-httpapi-ratelimit-headers-09), one list item
 * per limited window:
 *   RateLimit-Policy: "per-minute";q=100;w=60, "org:monthly";q=1000;w=2678400
 *   RateLimit: "per-minute";r=41;t=17, "org:monthly";r=512;t=1209600
 * q: admissions per window, w: window length (s), r: admissions left, t: seconds until the window resets.
 * Unlimited windows (a null quota) are left out. Empty when nothing is limited.
 */
export function rateLimitHeaders(windows: WindowState[], nowMs: number): Record<string, string> {
  const limited = windows.filter((w) => w.limit !== null);
  if (limited.length === 0) return {};
  const policy = limited.map((w) => `${quoted(w.policy)};q=${w.limit};w=${seconds(w.endMs - w.startMs)}`);
  const state = limited.map((w) => `${quoted(w.policy)};r=${remaining(w)};t=${seconds(w.endMs - nowMs)}`);
  return { 'RateLimit-Policy': policy.join(', '), RateLimit: state.join(', ') };
}

function seconds(ms: number): number {
  return Math.max(0, Math.ceil(ms / 1000));
}

// Policy names are `[a-z0-9_-]` (key limits) or `org:monthly`: nothing needs escaping in an sf-string.
function quoted(name: string): string {
  return `"${name}"`;
}
