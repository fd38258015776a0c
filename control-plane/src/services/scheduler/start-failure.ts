import { START_FAILURE_REASON_MAX, type StartFailure } from '@meridian/protocol';
import type { StartProblem } from '../../db/schema.js';
import type { DeploymentView, WorkloadView } from './cluster-view.js';
import { retryBackoffMs } from './workload-specs.js';

// Why a deployment that no replica serves failed to start, as routing carries it to the edge
// (`RoutedDeployment.startFailure`): its callers read it in a 503, so it names no replica, agent or path.

/** Ids Meridian mints for what a caller never sees: replicas, agents, bootstrap tokens. */
const INTERNAL_ID = /\b(?:wl|agt|bst)_[0-9a-z]{26}\b/g;
/** An absolute file path (two segments or more) standing alone, as an agent's error names its cache. */
const FILE_PATH = /(?<=^|[\s'"`(=:,[])(?:\/[\w.@+-]+){2,}\/?/g;

/** `reason` with internal ids and host paths taken out, on one line and at most START_FAILURE_REASON_MAX long. */
export function publicReason(reason: string): string {
  const text = reason
    .replace(FILE_PATH, 'a file on the host')
    .replace(INTERNAL_ID, (id) =>
      id.startsWith('agt_') ? 'a host' : id.startsWith('wl_') ? 'a replica' : '…',
    )
    .replace(/\s+/g, ' ')
    .trim();
  return text.length <= START_FAILURE_REASON_MAX ? text : `${text.slice(0, START_FAILURE_REASON_MAX - 1)}…`;
}

/**
 * The start failure of `d`, which no ready replica serves, from its current revision's replicas
 * (`workloads`, not retiring): one that failed before it was ever ready (its agent's reason; the scheduler
 * tries again at `retryAt`), or one no host can take (placement's reason). A replica retrying after a failure keeps the
 * failure routing carried before (`previous`) until it is ready or fails in turn: the last start failed
 * until one succeeds. A new revision starts at attempt 1 and so carries none.
 */
export function startFailureOf(
  d: DeploymentView,
  workloads: readonly WorkloadView[],
  previous: StartFailure | undefined,
): StartFailure | undefined {
  const current = workloads.filter((w) => w.revision === d.revision && w.retireAt === null);
  // One that failed after it was ready crashed rather than failed to start: its replacement is ordinary
  // churn, which the edge holds calls through.
  const failed = current.find((w) => w.agentId !== null && w.phase === 'failed' && w.readyAt === null);
  if (failed)
    return {
      reason: publicReason(failed.reason ?? 'a replica failed without giving a reason'),
      ...(failed.failedAt !== null ? { retryAt: failed.failedAt + retryBackoffMs(failed.attempt) } : {}),
    };
  const unplaced = current.find((w) => w.agentId === null && w.pendingReason !== null);
  if (unplaced?.pendingReason) return { reason: publicReason(unplaced.pendingReason) };
  if (previous && current.some((w) => w.attempt > 1)) return previous;
  return undefined;
}

/**
 * Why `d`'s current revision cannot start, as the deployment stores it (`startProblem`), from its current,
 * non-retiring replicas `current`: none while one of them is ready. A replica that failed before it was ever
 * ready is `failed` (the scheduler tries again at `retryAt`), and stays so while its successor retries, as
 * routing's start failure does (`previous`); one no host can take is `unplaceable`. A new revision starts at
 * attempt 1 and so carries none.
 */
export function startProblemOf(
  d: DeploymentView,
  current: readonly WorkloadView[],
  previous: StartProblem | null,
): StartProblem | null {
  if (current.some((w) => w.agentId !== null && w.phase === 'ready')) return null;
  const failure = startFailureOf(d, current, undefined);
  const failed = current.some((w) => w.agentId !== null && w.phase === 'failed' && w.readyAt === null);
  if (failure)
    return { kind: failed ? 'failed' : 'unplaceable', message: failure.reason, ...retryOf(failure) };
  if (previous?.kind === 'failed' && current.some((w) => w.attempt > 1)) return previous;
  return null;
}

const retryOf = (f: StartFailure) => (f.retryAt !== undefined ? { retryAt: f.retryAt } : {});
