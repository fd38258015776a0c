import type { MeridianClient } from './client.js';
import { DeploymentFailedError } from './errors.js';
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
