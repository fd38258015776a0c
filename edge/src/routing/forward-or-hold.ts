import type { RoutedVersion } from '@meridian/protocol';
import { EdgeError } from '../errors.js';
import {
  type ForwardEnv,
  type Forwarded,
  type ForwardRequest,
  forwardToReplica,
  NoReplicaAnswered,
} from './forward.js';
import { type CalledNoun, pause } from './hold-queue.js';
import { findById, routingTable } from './routing-table.js';
import { type HoldEnv, hasReplica, holdBounds, holdQueue, holdUntilReady } from './wake.js';

/** Pauses before trying again replicas that are down while routing still names them; the last repeats. */
const DOWN_RETRY_PAUSES_MS = [100, 200, 400, 800, 1_000];

const sameReplicas = (a: RoutedVersion, b: RoutedVersion) =>
  a.replicas.map((r) => r.workloadId).join() === b.replicas.map((r) => r.workloadId).join();

/**
 * Forwards a call as `forwardToReplica` does. When no replica answered, routing is pulled at once: the
 * isolate's snapshot may be stale (an idle isolate serves its old one while refreshing in the background),
 * and the replicas it named gone, scaled down or to zero. If the deployment now has no replica, the call is
 * held until one serves (and may get the hold's 503); then, or if other replicas of the version serve now,
 * it is forwarded again.
 *
 * If routing still names the same replicas and every one of them was down (its agent unreachable, or saying
 * its model server or worker is gone: a crash or a restart that routing does not show yet), the call is
 * held too: tried again after a pause, with routing looked at again, until a replica answers or routing
 * replaces them, for at most the deployment's hold wait, its body counted in the isolate's hold bound. A
 * busy (503 for load) or slow replica's failure is the answer at once. A hold's errors name the deployment as
 * `noun`, the caller's word.
 */
export async function forwardOrHold(
  env: ForwardEnv & HoldEnv,
  request: ForwardRequest,
  background?: Pick<ExecutionContext, 'waitUntil'>,
  noun: CalledNoun = 'model',
): Promise<Forwarded> {
  let routed = request;
  let deadline: number | undefined;
  for (let failures = 0, pauses = 0; ; ) {
    let failure: EdgeError;
    try {
      return await forwardToReplica(env, routed);
    } catch (err) {
      if (!(err instanceof EdgeError) || err.code !== 'unavailable') throw err;
      failure = err;
    }
    const { deployment, version } = routed;
    deadline ??= Date.now() + holdBounds(env, deployment).maxWaitMs;
    // A first failure always gets a look at fresh routing (a hold wait of 0 still follows a scale-down).
    if (failures++ > 0 && Date.now() >= deadline) throw failure;
    const table = routingTable(env);
    // The first look is a pull at once; while down replicas are waited out, at most one pull per 250 ms.
    const snapshot = pauses === 0 ? await table.fresh(env) : await table.afterMiss(env);
    let now = findById(snapshot, deployment.orgId, deployment.deploymentId);
    if (now && !hasReplica(now))
      now = await holdUntilReady(env, now, routed.body.byteLength, background, noun);
    const same = now?.versions.find((v) => v.versionId === version.versionId);
    if (!now || !same || same.replicas.length === 0) throw failure;
    routed = { ...routed, deployment: now, version: same };
    if (!sameReplicas(same, version)) continue;
    if (!(failure instanceof NoReplicaAnswered) || !failure.down) throw failure;
    const pauseMs = Math.min(
      DOWN_RETRY_PAUSES_MS[Math.min(pauses++, DOWN_RETRY_PAUSES_MS.length - 1)] as number,
      deadline - Date.now(),
    );
    const release = pauseMs > 0 ? holdQueue(env).reserve(routed.body.byteLength) : undefined;
    if (!release) throw failure;
    try {
      await pause(pauseMs);
    } finally {
      release();
    }
  }
}
