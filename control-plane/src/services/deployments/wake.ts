import type { RoutingSnapshot, WakeAnswer } from '@meridian/protocol';
import { and, eq } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { deployments } from '../../db/schema.js';
import { notFound } from '../../errors.js';
import type { LoadSignals } from '../scheduler/load-signals.js';
import type { RoutingWatch } from '../scheduler/routing-watch.js';
import type { SchedulerTrigger } from '../scheduler/trigger.js';
import { recordEvent } from './events.js';

export interface WakeDeps {
  db: Database;
  scheduler: SchedulerTrigger;
  signals: LoadSignals;
  watch: RoutingWatch;
}

/** The deployment as the snapshot routes it, if a replica serves it or its last start failed. */
const settledIn = (snapshot: RoutingSnapshot, deploymentId: string) =>
  snapshot.deployments.find(
    (d) =>
      d.deploymentId === deploymentId &&
      (d.startFailure !== undefined || d.versions.some((v) => v.replicas.length > 0)),
  );

/**
 * The edge holds calls for a deployment with no ready replica and asks for one. A deployment at zero goes to
 * one replica by a single conditional UPDATE, so however many isolates ask at once exactly one wins, records
 * the event and kicks the scheduler (which places the replica and wakes its agent's long poll). Every caller
 * counts its held calls as load while it waits. With `waitMs`, it answers once the routing snapshot shows a
 * ready replica, or that the deployment failed to start (routing's `startFailure`, whose reason the edge
 * gives its callers), or when the wait ends.
 */
export async function wakeDeployment(
  deps: WakeDeps,
  deploymentId: string,
  held: number,
  waitMs: number,
  signal?: AbortSignal,
): Promise<WakeAnswer> {
  const [row] = await deps.db
    .select({ orgId: deployments.orgId, desired: deployments.desiredReplicas })
    .from(deployments)
    .where(eq(deployments.id, deploymentId));
  if (!row) throw notFound('Deployment');
  const release = deps.signals.recordHeld(deploymentId, held, waitMs > 0);
  try {
    if (row.desired === 0) await startOne(deps, deploymentId, row.orgId, held);
    const test = (s: RoutingSnapshot) => settledIn(s, deploymentId) !== undefined;
    const now = await deps.watch.current();
    const snapshot = test(now) ? now : waitMs > 0 ? await deps.watch.until(test, waitMs, signal) : undefined;
    const routed = snapshot && settledIn(snapshot, deploymentId);
    if (!snapshot || !routed) return { state: 'starting' };
    const failure = routed.startFailure;
    return failure && !routed.versions.some((v) => v.replicas.length > 0)
      ? { state: 'failed', reason: failure.reason, routingVersion: snapshot.version }
      : { state: 'ready', routingVersion: snapshot.version };
  } finally {
    release();
  }
}

async function startOne(deps: WakeDeps, deploymentId: string, orgId: string, held: number): Promise<void> {
  const won = await deps.db.transaction(async (tx) => {
    const moved = await tx
      .update(deployments)
      .set({ desiredReplicas: 1, updatedAt: new Date() })
      .where(and(eq(deployments.id, deploymentId), eq(deployments.desiredReplicas, 0)))
      .returning({ id: deployments.id });
    if (moved.length === 0) return false;
    await recordEvent(tx, {
      deploymentId,
      orgId,
      type: 'woken',
      message: `0 → 1 replica: woken by a call held at the edge (${held} held by the isolate that asked)`,
    });
    return true;
  });
  if (won) deps.scheduler.kick();
}
