import type { BatchJobError, StartProblem } from '../../db/schema.js';

/**
 * How long a job waits on a deployment no host can place before it fails. Long enough for a host to come back
 * or join (an agent restarts in seconds, a new cloud GPU host registers in a few minutes), short enough that a
 * job on hardware the cluster lacks says so within the quarter hour rather than at the end of its window.
 */
export const UNPLACEABLE_LIMIT_MS = 15 * 60_000;

/** What a job waiting between shards does now: run, wait (and say why), or fail. */
export type Verdict =
  | { act: 'go' }
  | { act: 'pause' | 'wait'; pausedReason: string; statusReason: string; unplaceableSince: Date | null }
  | { act: 'fail'; error: BatchJobError };

const KEPT = 'the lines answered so far are in the output file';

/**
 * The verdict for a job on deployment `name` from its org's standing, whether routing has a ready replica, and
 * the deployment's start problem. A failed start fails the job at once (the edge answers its callers 503 at
 * once too); an unplaceable deployment is waited on for `limitMs` from when the job first found it so, and a
 * deployment placed meanwhile lets the job go on. Lines not sent are neither billed nor in any file.
 */
export function waitVerdict(
  job: { deploymentName: string; unplaceableSince: Date | null },
  state: { suspended: boolean; ready: boolean; problem: StartProblem | null },
  now: Date,
  limitMs = UNPLACEABLE_LIMIT_MS,
): Verdict {
  const name = `the deployment '${job.deploymentName}'`;
  if (state.suspended)
    return {
      act: 'pause',
      pausedReason: 'org_suspended',
      statusReason: 'paused while the organisation is suspended',
      unplaceableSince: null,
    };
  if (state.ready) return { act: 'go' };
  const { problem } = state;
  if (problem?.kind === 'failed')
    return {
      act: 'fail',
      error: { code: 'deployment_failed', message: `${name} failed to start: ${problem.message}; ${KEPT}` },
    };
  if (problem?.kind === 'unplaceable') {
    const since = job.unplaceableSince ?? now;
    const failAt = new Date(since.getTime() + limitMs);
    if (now >= failAt)
      return {
        act: 'fail',
        error: {
          code: 'deployment_unplaceable',
          message: `no host could run ${name} for ${minutes(limitMs)}: ${problem.message}; ${KEPT}`,
        },
      };
    return {
      act: 'wait',
      pausedReason: 'waiting_for_replica',
      statusReason: `${name} cannot be placed: ${problem.message}; the job fails at ${failAt.toISOString()} if no host can take it by then`,
      unplaceableSince: since,
    };
  }
  return {
    act: 'wait',
    pausedReason: 'waiting_for_replica',
    statusReason: `waiting for a replica of ${name} to be ready`,
    unplaceableSince: null,
  };
}

function minutes(ms: number): string {
  const [n, unit] = ms >= 60_000 ? [Math.round(ms / 60_000), 'minute'] : [Math.round(ms / 1000), 'second'];
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}
