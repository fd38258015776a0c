const DURATION = /^(\d{1,9})(s|m|h|d)$/;
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
// RFC 3339 with a zone: a bare date or a time without zone would mean the server's zone.
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/**
 * `since` of a logs read as unix milliseconds: an RFC 3339 time (`2026-01-02T03:04:05Z`) or a duration back
 * from `nowMs` (`90s`, `10m`, `2h`, `1d`); undefined when it is neither.
 */
export function parseSince(raw: string, nowMs: number): number | undefined {
  const duration = DURATION.exec(raw);
  if (duration) return nowMs - Number(duration[1]) * UNIT_MS[duration[2] as keyof typeof UNIT_MS];
  if (!RFC3339.test(raw)) return undefined;
  const ms = Date.parse(raw);
  return Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}
