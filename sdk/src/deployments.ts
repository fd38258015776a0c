import type { MeridianClient } from './client.js';
import { DeploymentFailedError, RolloutFailedError } from './errors.js';
import type { Schema } from './types.js';

type Deployment = Schema<'Deployment'>;

export interface WaitOptions {
  /** Told of the deployment each time its status or replica phases change. */
  onChange?: (deployment: Deployment) => void;
  /** Default 10 minutes. */
  timeoutMs?: number;
  /** Default 1 s. */
  intervalMs?: number;
  signal?: AbortSignal;
}

/** What one poll of the deployment decides: what to compare for onChange, and whether the wait is over. */
interface PollRule {
  /** Told to onChange when it differs from the last poll's. */
  seen(deployment: Deployment): unknown;
  /** The deployment when the wait is over; throws when it ended badly; undefined to poll again. */
  settle(deployment: Deployment): Deployment | undefined;
  /** Thrown past the timeout. */
  timedOut(deployment: Deployment): string;
}

async function poll(client: MeridianClient, id: string, options: WaitOptions, rule: PollRule) {
  const deadline = Date.now() + (options.timeoutMs ?? 600_000);
  let last = '';
  for (;;) {
    options.signal?.throwIfAborted();
    const deployment = await client.request('get', '/v1/deployments/{id}', { path: { id } });
    const seen = JSON.stringify(rule.seen(deployment));
    if (seen !== last) {
      last = seen;
      options.onChange?.(deployment);
    }
    const settled = rule.settle(deployment);
    if (settled) return settled;
    if (Date.now() > deadline) throw new Error(rule.timedOut(deployment));
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 1_000));
  }
}

/**
 * Waits until the deployment is ready (pending → scheduled → pulling → loading → ready) and returns it;
 * throws DeploymentFailedError with the server's reason when it fails, and an Error past the timeout.
 */
export function waitForDeployment(
  client: MeridianClient,
  id: string,
  options: WaitOptions = {},
): Promise<Deployment> {
  return poll(client, id, options, {
    seen: (d) => [d.status, d.statusReason, d.replicas],
    settle: (d) => {
      if (d.status === 'failed') throw new DeploymentFailedError(id, d.statusReason ?? 'no reason given');
      return d.status === 'ready' ? d : undefined;
    },
    timedOut: (d) => `Deployment ${id} is still ${d.status} after the timeout`,
  });
}

/**
 * Waits until the deployment's canary rollout ends and returns the deployment once the canary is promoted;
 * throws RolloutFailedError with the server's reason when it is rolled back, cancelled or superseded, and an
 * Error past the timeout. `onChange` hears of each step and of the figures each time they are judged.
 */
export function waitForRollout(
  client: MeridianClient,
  id: string,
  options: WaitOptions = {},
): Promise<Deployment> {
  return poll(client, id, options, {
    seen: ({ rollout: r }) => [r?.state, r?.step, r?.stepStartedAt, r?.figures?.judgedAt],
    settle: (d) => {
      const rollout = d.rollout;
      if (!rollout) throw new Error(`Deployment ${id} has no rollout to wait for`);
      if (rollout.state === 'promoted') return d;
      if (rollout.state !== 'canary')
        throw new RolloutFailedError(id, rollout.state, rollout.reason ?? 'no reason given');
      return undefined;
    },
    timedOut: () => `The canary on deployment ${id} is still running after the timeout`,
  });
}
