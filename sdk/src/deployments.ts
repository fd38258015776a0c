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

/**
 * Waits until the deployment is ready (pending → scheduled → pulling → loading → ready) and returns it;
 * throws DeploymentFailedError with the server's reason when it fails, and an Error past the timeout.
 */
export async function waitForDeployment(
  client: MeridianClient,
  id: string,
  options: WaitOptions = {},
): Promise<Deployment> {
  const deadline = Date.now() + (options.timeoutMs ?? 600_000);
  let last = '';
  for (;;) {
    options.signal?.throwIfAborted();
    const deployment = await client.request('get', '/v1/deployments/{id}', { path: { id } });
    const seen = JSON.stringify([deployment.status, deployment.statusReason, deployment.replicas]);
    if (seen !== last) {
      last = seen;
      options.onChange?.(deployment);
    }
    if (deployment.status === 'ready') return deployment;
    if (deployment.status === 'failed')
      throw new DeploymentFailedError(id, deployment.statusReason ?? 'no reason given');
    if (Date.now() > deadline)
      throw new Error(`Deployment ${id} is still ${deployment.status} after the timeout`);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 1_000));
  }
}

/**
 * Waits until the deployment's canary rollout ends and returns the deployment once the canary is promoted;
 * throws RolloutFailedError with the server's reason when it is rolled back, cancelled or superseded, and an
 * Error past the timeout. `onChange` hears of each step and of the figures each time they are judged.
 */
export async function waitForRollout(
  client: MeridianClient,
  id: string,
  options: WaitOptions = {},
): Promise<Deployment> {
  const deadline = Date.now() + (options.timeoutMs ?? 600_000);
  let last = '';
  for (;;) {
    options.signal?.throwIfAborted();
    const deployment = await client.request('get', '/v1/deployments/{id}', { path: { id } });
    const rollout = deployment.rollout;
    if (!rollout) throw new Error(`Deployment ${id} has no rollout to wait for`);
    const seen = JSON.stringify([
      rollout.state,
      rollout.step,
      rollout.stepStartedAt,
      rollout.figures?.judgedAt,
    ]);
    if (seen !== last) {
      last = seen;
      options.onChange?.(deployment);
    }
    if (rollout.state === 'promoted') return deployment;
    if (rollout.state !== 'canary')
      throw new RolloutFailedError(id, rollout.state, rollout.reason ?? 'no reason given');
    if (Date.now() > deadline)
      throw new Error(`The canary on deployment ${id} is still running after the timeout`);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 1_000));
  }
}
