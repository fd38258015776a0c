import type { MeridianClient } from './client.js';
import { DeploymentFailedError, RolloutFailedError } from './errors.js';
import { type WaitOptions as PollOptions, type PollRule, pollUntil } from './poll.js';
import type { Schema } from './types.js';

type Deployment = Schema<'Deployment'>;

export type WaitOptions = PollOptions<Deployment>;

const poll = (client: MeridianClient, id: string, options: WaitOptions, rule: PollRule<Deployment>) =>
  pollUntil(() => client.request('get', '/v1/deployments/{id}', { path: { id } }), options, rule);

/**
 * Waits until the deployment is ready (pending → scheduled → pulling → loading → ready), or idle (scaled to
 * zero: it serves, and the next call wakes it), and returns it; throws DeploymentFailedError with the
 * server's reason when it fails, and WaitTimeoutError past the timeout.
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
      // Idle never turns ready by waiting: nothing starts at zero before a call.
      return d.status === 'ready' || d.status === 'idle' ? d : undefined;
    },
    timedOut: (d) => `Deployment ${d.name} is still ${d.status} after the timeout`,
  });
}

/**
 * Waits until the deployment's canary rollout ends and returns the deployment once the canary is promoted;
 * throws RolloutFailedError with the server's reason when it is rolled back, cancelled or superseded, and
 * WaitTimeoutError past the timeout. `onChange` hears of each step and of the figures each time they are judged.
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
    timedOut: (d) => `The canary on deployment ${d.name} is still running after the timeout`,
  });
}

/**
 * A deployment's replicas as a person counts them: those ready, out of what the autoscaler wants now, and
 * those ready beyond it (`extra`): while a canary runs they are mostly its replicas, otherwise replicas on
 * their way out (the old revision's during a rolling update, or a scale-down's). Without the split a rolling
 * update reads as "2/1 ready".
 */
export function replicaCounts(d: Pick<Deployment, 'replicas' | 'desiredReplicas' | 'rollout'>): {
  ready: number;
  wanted: number;
  extra: number;
  extraAre: 'canary' | 'retiring';
} {
  const wanted = d.desiredReplicas;
  return {
    ready: Math.min(d.replicas.ready, wanted),
    wanted,
    extra: Math.max(0, d.replicas.ready - wanted),
    extraAre: d.rollout?.state === 'canary' ? 'canary' : 'retiring',
  };
}

/** The alias the served version was asked by (`requested` is `alias:<name>`); undefined when asked by number. */
export function askedAlias(d: Pick<Deployment, 'version'>): string | undefined {
  const requested = d.version.requested;
  return requested.startsWith('alias:') ? requested.slice('alias:'.length) : undefined;
}
