const DURATION = /^(\d{1,9})(s|m|h|d)$/;
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
// RFC 3339 with a zone: a bare date or a time without zone would mean the server's zone.
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const FORMAT = 'an RFC 3339 time (2026-01-02T03:04:05Z) or a duration back from now (90s, 10m, 2h, 1d)';

/** `since` read as unix milliseconds, or what keeps it from being read. */
function readSince(raw: string, nowMs: number): { ms: number } | { problem: string } {
  const duration = DURATION.exec(raw);
  // A duration reaching back past 1970 asks for every line kept: nothing is older than the epoch, and an
  // agent refuses a negative time (the read answered 400 through every replica).
  if (duration)
    return { ms: Math.max(0, nowMs - Number(duration[1]) * UNIT_MS[duration[2] as keyof typeof UNIT_MS]) };
  if (!RFC3339.test(raw)) return { problem: `since is ${FORMAT}` };
  const ms = Date.parse(raw);
  if (!Number.isFinite(ms)) return { problem: 'since is written as an RFC 3339 time but is not a real one' };
  // Log times are unix milliseconds, so nothing precedes the epoch.
  if (ms < 0) return { problem: 'since is out of range: the earliest is 1970-01-01T00:00:00Z' };
  return { ms };
}

/**
 * `since` of a logs read as unix milliseconds: an RFC 3339 time (`2026-01-02T03:04:05Z`) or a duration back
 * from `nowMs` (`90s`, `10m`, `2h`, `1d`); undefined when it is neither.
 */
export function parseSince(raw: string, nowMs: number): number | undefined {
  const read = readSince(raw, nowMs);
  return 'ms' in read ? read.ms : undefined;
}

/** Why `raw` is not a `since` parseSince reads (wrong format, no such time, before 1970), if it is not. */
export function sinceProblem(raw: string, nowMs: number): string | undefined {
  const read = readSince(raw, nowMs);
  return 'problem' in read ? read.problem : undefined;
}
