import { newId } from '@meridian/protocol';
import { and, eq, inArray, isNotNull, lt, type SQL, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import {
  agents,
  deploymentEvents,
  deployments,
  endedReplicas,
  notebookSessions,
  notebooks,
  workloadOwners,
  workloads,
} from '../../db/schema.js';
import { updateRows } from './batched-update.js';
import type { Plan } from './plan.js';
import type { WorkloadFields } from './plan-context.js';

const date = (ms: number | null | undefined) => (ms === null || ms === undefined ? ms : new Date(ms));

/** Rows per multi-row insert: well under SQLite's bound-parameter limit. */
const CHUNK = 200;

/** A workload's changed fields as its columns; unset fields are left out. */
function columns(f: WorkloadFields) {
  return {
    ...(f.agentId !== undefined ? { agentId: f.agentId } : {}),
    ...(f.phase !== undefined ? { phase: f.phase } : {}),
    ...(f.reason !== undefined ? { reason: f.reason } : {}),
    ...(f.pendingReason !== undefined ? { pendingReason: f.pendingReason } : {}),
    ...(f.retireAt !== undefined ? { retireAt: date(f.retireAt) } : {}),
    ...(f.pullingAt !== undefined ? { pullingAt: date(f.pullingAt) } : {}),
    ...(f.loadingAt !== undefined ? { loadingAt: date(f.loadingAt) } : {}),
    ...(f.readyAt !== undefined ? { readyAt: date(f.readyAt) } : {}),
    ...(f.firstCallAt !== undefined ? { firstCallAt: date(f.firstCallAt) } : {}),
    ...(f.failedAt !== undefined ? { failedAt: date(f.failedAt) } : {}),
    ...(f.placedAt !== undefined ? { placedAt: date(f.placedAt) } : {}),
  };
}

/** How long a removed replica is remembered for its lines (MERIDIAN_ENDED_REPLICA_LOGS_SECONDS). */
export const DEFAULT_ENDED_REPLICA_LOGS_MS = 3_600_000;

/**
 * Writes one tick's plan in one transaction, so an agent never sees half of it, then returns the agents whose
 * desired state moved (their versions were bumped in the same transaction). Removed replicas that were placed
 * are remembered for `endedLogsMs`, so their lines stay readable from their agents.
 */
export async function applyPlan(
  db: Database,
  plan: Plan,
  now: number,
  endedLogsMs = DEFAULT_ENDED_REPLICA_LOGS_MS,
): Promise<string[]> {
  // A tick that decided nothing opens no transaction: a steady cluster costs the database no write.
  if (isEmpty(plan)) return [];
  const at = new Date(now);
  await db.transaction(async (tx) => {
    if (plan.lostAgents.length > 0)
      await tx.update(agents).set({ status: 'lost' }).where(inArray(agents.id, plan.lostAgents));
    if (plan.deleteWorkloads.length > 0) {
      await tx
        .insert(endedReplicas)
        .select(
          tx
            .select({
              workloadId: workloads.id,
              deploymentId: sql<string>`${workloads.deploymentId}`.as('deployment_id'),
              agentId: sql<string>`${workloads.agentId}`.as('agent_id'),
              endedAt: sql<Date>`${now}`.as('ended_at'),
            })
            .from(workloads)
            .where(
              and(
                inArray(workloads.id, plan.deleteWorkloads),
                isNotNull(workloads.deploymentId),
                isNotNull(workloads.agentId),
              ),
            ),
        )
        .onConflictDoNothing();
      await tx.delete(workloads).where(inArray(workloads.id, plan.deleteWorkloads));
      await tx.delete(endedReplicas).where(lt(endedReplicas.endedAt, new Date(now - endedLogsMs)));
    }
    // A workload created and placed in the same tick is inserted placed: one statement, not one more per row.
    const created = new Set(plan.createWorkloads.map((w) => w.id));
    if (plan.createWorkloads.length > 0) {
      const rows = plan.createWorkloads.map((w) => ({
        ...w,
        ...columns(plan.updateWorkloads.get(w.id) ?? {}),
      }));
      for (let i = 0; i < rows.length; i += CHUNK)
        await tx.insert(workloads).values(rows.slice(i, i + CHUNK));
      // Billing's record of whom each workload runs for; it outlives the workload (late usage reports).
      await tx
        .insert(workloadOwners)
        .values(
          plan.createWorkloads.map((w) => ({
            workloadId: w.id,
            orgId: w.orgId,
            kind: w.kind,
            deploymentId: w.deploymentId,
            notebookId: w.notebookId,
            gpuType: w.gpuType,
          })),
        )
        .onConflictDoNothing();
    }
    const run = (query: SQL) => tx.run(query);
    // An update whose fields were all undefined writes nothing (updateRows skips a row with nothing to set).
    const changed = [...plan.updateWorkloads].filter(([id]) => !created.has(id));
    await updateRows(
      run,
      workloads,
      workloads.id,
      changed.map(([id, f]) => ({
        key: id,
        set: Object.entries(columns(f)).map(([name, value]) => [workloads[name as keyof typeof f], value]),
      })),
    );
    // Conditional: a wake or a PATCH may have moved the target since this tick read it; theirs stands.
    await updateRows(
      run,
      deployments,
      deployments.id,
      plan.scaleTargets.map((s) => ({
        key: s.id,
        set: [[deployments.desiredReplicas, s.to]],
        guard: [deployments.desiredReplicas, s.from],
      })),
    );
    await updateRows(
      run,
      deployments,
      deployments.id,
      plan.deploymentStatus.map((s) => ({
        key: s.id,
        set: [
          [deployments.status, s.status],
          [deployments.statusReason, s.reason],
          [deployments.startProblem, s.startProblem],
          [deployments.updatedAt, at],
        ],
        // A rollout since this tick read the deployment says its own status; the old revision's is not the new one's.
        guard: [deployments.revision, s.revision],
      })),
    );
    const events = plan.events.map((e) => ({ ...e, id: newId('deploymentEvent', now), at }));
    for (let i = 0; i < events.length; i += CHUNK)
      await tx.insert(deploymentEvents).values(events.slice(i, i + CHUNK));
    for (const [id, f] of plan.notebookUpdates)
      await tx
        .update(notebooks)
        .set({
          ...(f.status !== undefined ? { status: f.status } : {}),
          ...(f.statusReason !== undefined ? { statusReason: f.statusReason } : {}),
          ...(f.endpoint !== undefined ? { endpoint: f.endpoint } : {}),
          ...(f.lastActivityAt !== undefined ? { lastActivityAt: date(f.lastActivityAt) } : {}),
          ...(f.desired !== undefined ? { desired: f.desired } : {}),
          updatedAt: at,
        })
        .where(eq(notebooks.id, id));
    for (const s of plan.sessionEnds)
      await tx
        .update(notebookSessions)
        .set({ endedAt: new Date(s.endedAt), seconds: s.seconds, endReason: s.reason })
        .where(eq(notebookSessions.id, s.id));
    if (plan.sessionStarts.length > 0)
      await tx
        .insert(notebookSessions)
        .values(plan.sessionStarts.map((s) => ({ ...s, startedAt: new Date(s.startedAt) })));
    if (plan.notify.size > 0)
      await tx
        .update(agents)
        .set({ desiredVersion: sql`${agents.desiredVersion} + 1` })
        .where(inArray(agents.id, [...plan.notify]));
  });
  return [...plan.notify];
}

/** Every part of a plan is a list, map or set: empty when all are (a part added later is covered too). */
function isEmpty(plan: Plan): boolean {
  return Object.values(plan).every((part: unknown) =>
    Array.isArray(part)
      ? part.length === 0
      : part instanceof Map || part instanceof Set
        ? part.size === 0
        : false,
  );
}
