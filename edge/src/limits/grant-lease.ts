import type { ApiKeyRateLimit } from '@meridian/protocol';
import { QUOTA_POLICY, QUOTA_SCOPE } from './check-limits.js';
import type { CounterStore } from './counter-store.js';
import { alignedWindow, calendarMonthUtc, usedIn, type WindowState } from './fixed-window.js';
import type { HeldBlocks } from './held-blocks.js';

// Leased allowance, the limiter's side. An isolate asks its org's limiter for a block of units of each
// limit it has run out of; the limiter counts a granted block as used at once, so the sum of every block
// ever granted in a window never exceeds the window's limit, whatever isolates then do with them. Units an
// isolate does not spend come back with a return (applied only while their window is still current).

/** Most units one block may hold, whatever the rate (bounds what a dying isolate can strand). */
export const MAX_BLOCK_UNITS = 1_000;
/**
 * A block is at most what is left divided by twice the isolates leasing lately (and by at least 4), so
 * every isolate can get a share and the last units of a limit go out one at a time.
 */
export const MIN_SHARE_DIVISOR = 4;

/** Units an isolate gives back: unspent, or refunded after a failed upstream call. */
export interface LeaseReturn {
  scope: string;
  policy: string;
  /** The window they were granted in; ignored once that window has passed. */
  startMs: number;
  units: number;
  /** Blocks the isolate gives up with this return (their ids as granted): it holds nothing more of them. */
  closes?: string[];
}

/** What an isolate asks for: blocks of the limits it lacks, for one subject, plus what it gives back. */
export interface LeaseRequest {
  /** Whose limits: `key:<keyId>` or `user:<userId>`. */
  subject: string;
  rateLimits: ApiKeyRateLimit[];
  /** Calls per calendar month (UTC); null: unlimited. */
  monthlyCallQuota: number | null;
  /** Units wanted, by policy name (`org:monthly` for the quota), for the limits the isolate has run out of. */
  want: Record<string, number>;
  returns: LeaseReturn[];
  /** Random per isolate: the limiter counts isolates leasing lately to size blocks. */
  isolateId: string;
  /** How long the isolate may spend a block: the limiter counts it as held elsewhere until then. */
  leaseMs: number;
}

/** A block of one limit's window, now the isolate's to spend. */
export interface LeaseBlock {
  scope: string;
  policy: string;
  limit: number;
  startMs: number;
  endMs: number;
  units: number;
  /** The window's count at the limiter once this block was granted (blocks elsewhere count as used). */
  usedAfter: number;
  /** Set when the limiter tracks the block as held (more than one unit): the isolate closes it by this id. */
  id?: string;
}

export type LeaseResult =
  | { granted: true; nowMs: number; blocks: LeaseBlock[] }
  | {
      granted: false;
      nowMs: number;
      windows: WindowState[];
      rejected: WindowState[];
      retryAfterSeconds: number;
      /**
       * Set when every refused window may still have units unspent in blocks other isolates hold: when the
       * last of those leases ends (limiter clock). The refusal is not final before then.
       */
      heldElsewhereUntilMs?: number;
    };

/**
 * Applies returns whose window is still the stored one; a return for a passed window changes nothing.
 * Blocks a return closes are no longer held.
 */
export function applyReturns(store: CounterStore, returns: LeaseReturn[], held: HeldBlocks): void {
  for (const back of returns) {
    if (back.closes) held.close(back.closes);
    const stored = store.read(back.scope, back.policy);
    if (stored === undefined || stored.startMs !== back.startMs || back.units <= 0) continue;
    store.write(back.scope, back.policy, { ...stored, used: Math.max(0, stored.used - back.units) });
  }
}

/** The caller's limited windows as they stand now, each with the scope its counter lives under. */
function limitedWindows(store: CounterStore, request: LeaseRequest, nowMs: number) {
  const named = request.rateLimits.map((limit) => {
    const window = alignedWindow(limit.periodSeconds, nowMs);
    const used = usedIn(window, store.read(request.subject, limit.name));
    const state: WindowState = { policy: limit.name, limit: limit.limit, ...window, used };
    return { scope: request.subject, state };
  });
  const quota = [];
  if (request.monthlyCallQuota !== null) {
    const month = calendarMonthUtc(nowMs);
    const used = usedIn(month, store.read(QUOTA_SCOPE, QUOTA_POLICY));
    const state: WindowState = { policy: QUOTA_POLICY, limit: request.monthlyCallQuota, ...month, used };
    quota.push({ scope: QUOTA_SCOPE, state });
  }
  return [...named, ...quota];
}

/**
 * Grants one block of every limit named in `want`, or none at all: a limit with no unit left refuses the
 * whole request and consumes nothing from the others. Each block holds what was wanted, at least one unit
 * and at most a fair share of what is left (blockUnits). Synchronous: run inside the limiter's
 * transaction, no other request interleaves.
 */
export function grantLease(
  store: CounterStore,
  request: LeaseRequest,
  nowMs: number,
  activeIsolates: number,
  held: HeldBlocks,
): LeaseResult {
  applyReturns(store, request.returns, held);
  const all = limitedWindows(store, request, nowMs);
  const wanted = all.filter((entry) => entry.state.limit !== null && entry.state.policy in request.want);
  const rejected = wanted.filter((entry) => entry.state.used + 1 > (entry.state.limit ?? 0));
  if (rejected.length > 0) {
    const waitMs = Math.max(...rejected.map((entry) => entry.state.endMs - nowMs));
    const heldUntil = rejected.map(({ scope, state }) => {
      const until = held.heldElsewhereUntil(scope, state.policy, state.startMs, request.isolateId, nowMs);
      // A block held to the window's end frees nothing sooner than the window itself.
      return until !== undefined && until < state.endMs ? until : undefined;
    });
    const heldElsewhereUntilMs = heldUntil.every((until) => until !== undefined)
      ? Math.max(...heldUntil)
      : undefined;
    return {
      granted: false,
      nowMs,
      windows: all.map((entry) => entry.state),
      rejected: rejected.map((entry) => entry.state),
      retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)),
      ...(heldElsewhereUntilMs === undefined ? {} : { heldElsewhereUntilMs }),
    };
  }
  const blocks = wanted.map(({ scope, state }) => {
    const limit = state.limit ?? 0;
    const units = blockUnits(request.want[state.policy] ?? 1, limit - state.used, activeIsolates);
    const usedAfter = state.used + units;
    store.write(scope, state.policy, { startMs: state.startMs, endMs: state.endMs, used: usedAfter });
    const block: LeaseBlock = {
      scope,
      policy: state.policy,
      limit,
      startMs: state.startMs,
      endMs: state.endMs,
      units,
      usedAfter,
    };
    if (units > 1) {
      block.id = crypto.randomUUID();
      const untilMs = Math.min(state.endMs, nowMs + request.leaseMs);
      const { isolateId } = request;
      held.open(block.id, { isolateId, scope, policy: state.policy, startMs: state.startMs, untilMs }, nowMs);
    }
    return block;
  });
  return { granted: true, nowMs, blocks };
}

/** Units of one block: what was wanted, at least 1, at most a fair share of what is left and MAX_BLOCK_UNITS. */
export function blockUnits(wanted: number, available: number, activeIsolates = 1): number {
  const divisor = Math.max(MIN_SHARE_DIVISOR, 2 * activeIsolates);
  const cap = Math.max(1, Math.floor(available / divisor));
  return Math.max(1, Math.min(Math.floor(wanted), cap, MAX_BLOCK_UNITS, available));
}
