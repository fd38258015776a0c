import { type RoutedDeployment, WakeAnswer, type WakeRequest } from '@meridian/protocol';
import type { Env } from '../env.js';
import { EdgeError } from '../errors.js';
import { type CalledNoun, type HoldBounds, HoldQueue, startFailed, type Waker } from './hold-queue.js';
import { findById, type RoutingEnv, routingTable } from './routing-table.js';

export type HoldEnv = RoutingEnv & Pick<Env, 'HOLD_MAX_WAIT_MS' | 'HOLD_MAX_COUNT' | 'HOLD_MAX_BYTES'>;

const DEFAULT_MAX_WAIT_MS = 30_000;
const DEFAULT_MAX_COUNT = 1_000;
/** Bodies reach 32 MiB: two such calls, or many small ones, per deployment and per isolate. */
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
/** Beyond the wait the control plane was asked for, how long its answer may take to arrive. */
const WAKE_ANSWER_MARGIN_MS = 5_000;

/** The isolate's held calls, under the isolate-wide byte bound. */
let isolateQueue: HoldQueue | undefined;
export function holdQueue(env: HoldEnv): HoldQueue {
  isolateQueue ??= new HoldQueue(positive(env.HOLD_MAX_BYTES, DEFAULT_MAX_BYTES));
  return isolateQueue;
}

/** The deployment's own bounds (routing snapshot's `hold`) where it has them, the edge's otherwise. */
export function holdBounds(env: HoldEnv, deployment: RoutedDeployment): HoldBounds {
  const hold = deployment.hold;
  return {
    maxWaitMs: hold?.maxWaitMs ?? positive(env.HOLD_MAX_WAIT_MS, DEFAULT_MAX_WAIT_MS),
    maxCount: hold?.maxCount ?? positive(env.HOLD_MAX_COUNT, DEFAULT_MAX_COUNT),
    maxBytes: hold?.maxBytes ?? positive(env.HOLD_MAX_BYTES, DEFAULT_MAX_BYTES),
  };
}

/**
 * Wakes `deployment` through `POST /internal/v1/deployments/{id}/wake?waitMs=N`, and learns readiness from
 * routing pulled at once (to at least the version the wake names), not at the next refresh.
 */
export function controlPlaneWaker(env: HoldEnv, deployment: RoutedDeployment): Waker {
  const { deploymentId, orgId } = deployment;
  return {
    async wake(held, waitMs, signal) {
      const url = `${env.CONTROL_PLANE_URL.replace(/\/$/, '')}/internal/v1/deployments/${encodeURIComponent(deploymentId)}/wake?waitMs=${Math.floor(waitMs)}`;
      const res = await fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${env.EDGE_SERVICE_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ held } satisfies WakeRequest),
        signal: AbortSignal.any([signal, AbortSignal.timeout(waitMs + WAKE_ANSWER_MARGIN_MS)]),
      });
      if (!res.ok) {
        await res.body?.cancel();
        throw new Error(`the control plane answered ${res.status} to a wake`);
      }
      const answer = WakeAnswer.parse(await res.json());
      if (answer.state !== 'failed') return answer;
      // Routing that shows the failure, pulled now: later calls and probes are answered from it at once.
      const snapshot = await routingTable(env)
        .fresh(env, answer.routingVersion)
        .catch(() => undefined);
      const retryAt = snapshot && findById(snapshot, orgId, deploymentId)?.startFailure?.retryAt;
      return retryAt === undefined ? answer : { ...answer, retryAt };
    },
    async ready(minVersion) {
      const snapshot = await routingTable(env).fresh(env, minVersion);
      const now = findById(snapshot, orgId, deploymentId);
      return now !== undefined && hasReplica(now);
    },
  };
}

/** How long a readiness probe's wake waits for a replica, and the least time between two of them per deployment. */
export const PROBE_WAKE_INTERVAL_MS = 10_000;

/** When this isolate last sent a readiness probe's wake of a deployment, and whether it is still in flight. */
const probeWakes = new Map<string, { startedAt: number; inFlight: boolean }>();

/**
 * Wakes `deployment` for a readiness probe, in the background: the probe is answered at once (it holds no
 * call), and a loop of probes sends at most one wake per PROBE_WAKE_INTERVAL_MS per deployment and isolate,
 * none while calls held for it keep a wake in flight (the control plane coalesces the isolates' wakes). The
 * wake waits for a replica and then refreshes routing, so the next probe sees it at once.
 */
export function wakeForProbe(
  env: HoldEnv,
  deployment: RoutedDeployment,
  background: Pick<ExecutionContext, 'waitUntil'>,
): void {
  const { deploymentId } = deployment;
  const now = Date.now();
  const last = probeWakes.get(deploymentId);
  if (last && (last.inFlight || now - last.startedAt < PROBE_WAKE_INTERVAL_MS)) return;
  if (holdQueue(env).held(deploymentId) > 0) return;
  if (probeWakes.size >= 1_000)
    for (const [id, w] of probeWakes)
      if (!w.inFlight && now - w.startedAt >= PROBE_WAKE_INTERVAL_MS) probeWakes.delete(id);
  const wake = { startedAt: now, inFlight: true };
  probeWakes.set(deploymentId, wake);
  const waker = controlPlaneWaker(env, deployment);
  const woken = waker
    .wake(0, PROBE_WAKE_INTERVAL_MS, new AbortController().signal)
    .then((answer) => (answer.state === 'ready' ? waker.ready(answer.routingVersion) : false))
    .catch((err: unknown) => {
      const error = err instanceof Error ? err.message : String(err);
      console.warn(JSON.stringify({ level: 'warn', message: 'probe wake failed', deploymentId, error }));
    })
    .finally(() => {
      wake.inFlight = false;
    });
  background.waitUntil(woken);
}

/** Whether any version of the deployment has a ready replica. */
export function hasReplica(deployment: RoutedDeployment): boolean {
  return deployment.versions.some((v) => v.replicas.length > 0);
}

/**
 * Holds a call of `bytes` for `deployment` until a replica serves it, and returns the deployment as the
 * refreshed routing shows it. Throws the hold's 503, or 404 when the deployment is gone meanwhile, naming it
 * as the caller does (`noun`). A deployment whose last start failed (routing's `startFailure`) is not held:
 * its 503 says why at once.
 */
export async function holdUntilReady(
  env: HoldEnv,
  deployment: RoutedDeployment,
  bytes: number,
  background?: Pick<ExecutionContext, 'waitUntil'>,
  noun: CalledNoun = 'model',
): Promise<RoutedDeployment> {
  const failed = startFailed(deployment);
  if (failed) throw failed;
  const waker = controlPlaneWaker(env, deployment);
  await holdQueue(env).hold(deployment, bytes, holdBounds(env, deployment), waker, background, noun);
  const snapshot = await routingTable(env).snapshot(env);
  const now = findById(snapshot, deployment.orgId, deployment.deploymentId);
  if (!now) {
    const gone = noun === 'model' ? 'its deployment was deleted' : 'it was deleted';
    throw new EdgeError('not_found', `${noun} '${deployment.name}' not found: ${gone}`);
  }
  return now;
}

function positive(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return value !== undefined && value !== '' && Number.isFinite(n) && n > 0 ? Math.floor(n) : fallback;
}
