import type { RoutedVersion } from '@meridian/protocol';
import { EdgeError } from '../errors.js';
import { type ForwardEnv, type Forwarded, type ForwardRequest, forwardToReplica } from './forward.js';
import { findById, routingTable } from './routing-table.js';
import { type HoldEnv, hasReplica, holdUntilReady } from './wake.js';

const sameReplicas = (a: RoutedVersion, b: RoutedVersion) =>
  a.replicas.map((r) => r.workloadId).join() === b.replicas.map((r) => r.workloadId).join();

/**
 * Forwards a call as `forwardToReplica` does. When no replica answered, routing is pulled at once: the
 * isolate's snapshot may be stale (an idle isolate serves its old one while refreshing in the background),
 * and the replicas it named gone, scaled down or to zero. If the deployment now has no replica, the call is
 * held until one serves (and may get the hold's 503); then, or if other replicas of the version serve now,
 * it is forwarded once more. Otherwise the first failure is the answer.
 */
export async function forwardOrHold(
  env: ForwardEnv & HoldEnv,
  request: ForwardRequest,
  background?: Pick<ExecutionContext, 'waitUntil'>,
): Promise<Forwarded> {
  try {
    return await forwardToReplica(env, request);
  } catch (err) {
    if (!(err instanceof EdgeError) || err.code !== 'unavailable') throw err;
    const { deployment, version } = request;
    let now = findById(await routingTable(env).fresh(env), deployment.orgId, deployment.deploymentId);
    if (now && !hasReplica(now)) now = await holdUntilReady(env, now, request.body.byteLength, background);
    const same = now?.versions.find((v) => v.versionId === version.versionId);
    if (!now || !same || same.replicas.length === 0 || sameReplicas(same, version)) throw err;
    return forwardToReplica(env, { ...request, deployment: now, version: same });
  }
}
