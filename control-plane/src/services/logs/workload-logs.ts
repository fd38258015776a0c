import { and, desc, eq, gte, isNotNull } from 'drizzle-orm';
import { requirePermission } from '../../auth/permissions.js';
import type { Actor } from '../../auth/principal.js';
import type { Database } from '../../db/client.js';
import { agents, deploymentRevisions, endedReplicas, modelVersions, workloads } from '../../db/schema.js';
import { forbidden } from '../../errors.js';
import { findDeployment } from '../deployments/records.js';
import { findNotebook, notebookCaller } from '../notebooks/records.js';
import { DEFAULT_ENDED_REPLICA_LOGS_MS } from '../scheduler/apply-plan.js';
import {
  type AgentLogLine,
  type AgentLogQuery,
  followReplicaLogs,
  type ReplicaLogs,
  type ReplicaTarget,
  readReplicaLogs,
} from './agent-logs.js';

export interface LogsDeps {
  db: Database;
  /** The platform key agents' data-plane keys derive from: the control plane signs its reads with them. */
  dataPlaneSigningKey: string;
  /** How long a removed replica's lines are shown with the live ones; default 1 h (as the agents keep them). */
  endedReplicaLogsMs?: number;
}

/** Removed replicas shown at most, the latest removed first: a read asks this many agents at most besides. */
export const MAX_ENDED_REPLICAS = 20;

/**
 * A replica whose lines are shown, with its phase (`ended` once removed, with when), or why it has none
 * when its agent did not answer.
 */
export interface Replica extends ReplicaTarget {
  phase: string;
  endedAt?: Date;
  /** Why its agent is not even asked (it was removed from the platform). */
  unreachable?: string;
  /** The model version a live deployment replica serves, so a person can tell replicas apart by it. */
  version?: number;
}

/** One line as the API shows it: when, from which replica and agent, on which stream. */
export interface WorkloadLogLine {
  time: string;
  seq: number;
  replica: string;
  agentId: string;
  stream: AgentLogLine['stream'];
  line: string;
}

async function replicasWhere(db: Database, where: ReturnType<typeof eq>): Promise<Replica[]> {
  const rows = await db
    .select({
      workloadId: workloads.id,
      agentId: agents.id,
      dataPlaneUrl: agents.dataPlaneUrl,
      keyGeneration: agents.dataPlaneKeyGeneration,
      phase: workloads.phase,
      version: modelVersions.version,
    })
    .from(workloads)
    .innerJoin(agents, eq(agents.id, workloads.agentId))
    .leftJoin(
      deploymentRevisions,
      and(
        eq(deploymentRevisions.deploymentId, workloads.deploymentId),
        eq(deploymentRevisions.revision, workloads.revision),
      ),
    )
    .leftJoin(modelVersions, eq(modelVersions.id, deploymentRevisions.modelVersionId))
    .where(and(where, isNotNull(workloads.agentId)));
  return rows.map(({ version, ...r }) => (version === null ? r : { ...r, version }));
}

/** The replicas of a deployment removed within `withinMs` of `now`, the latest removed first. */
async function endedReplicasOf(db: Database, id: string, withinMs: number, now: number): Promise<Replica[]> {
  const rows = await db
    .select({
      workloadId: endedReplicas.workloadId,
      agentId: endedReplicas.agentId,
      dataPlaneUrl: agents.dataPlaneUrl,
      keyGeneration: agents.dataPlaneKeyGeneration,
      endedAt: endedReplicas.endedAt,
    })
    .from(endedReplicas)
    .leftJoin(agents, eq(agents.id, endedReplicas.agentId))
    .where(and(eq(endedReplicas.deploymentId, id), gte(endedReplicas.endedAt, new Date(now - withinMs))))
    .orderBy(desc(endedReplicas.endedAt))
    .limit(MAX_ENDED_REPLICAS);
  return rows.map((r) => ({
    workloadId: r.workloadId,
    agentId: r.agentId,
    dataPlaneUrl: r.dataPlaneUrl ?? '',
    keyGeneration: r.keyGeneration ?? 0,
    phase: 'ended',
    endedAt: r.endedAt,
    ...(r.dataPlaneUrl === null ? { unreachable: 'its agent was removed' } : {}),
  }));
}

/**
 * The placed replicas of a deployment of the caller's org (another org's deployment is not found), then
 * those removed within the last `endedWithinMs` (phase `ended`): their agents keep their lines as long.
 */
export async function deploymentReplicas(
  db: Database,
  actor: Actor,
  id: string,
  endedWithinMs = DEFAULT_ENDED_REPLICA_LOGS_MS,
): Promise<Replica[]> {
  requirePermission(actor.principal, 'deployments:read');
  await findDeployment(db, actor.principal.orgId, id);
  const live = await replicasWhere(db, eq(workloads.deploymentId, id));
  return [...live, ...(await endedReplicasOf(db, id, endedWithinMs, Date.now()))];
}

/**
 * The placed run of a notebook of the caller's org. Its server's output is its owner's (and the org's
 * owners' and admins', who may stop it): others of the org are refused, as they are its token.
 */
export async function notebookReplicas(db: Database, actor: Actor, id: string): Promise<Replica[]> {
  const user = notebookCaller(actor.principal, 'notebooks:read');
  const row = await findNotebook(db, user.orgId, id);
  if (row.ownerId !== user.userId && user.role !== 'owner' && user.role !== 'admin')
    throw forbidden('Only the notebook’s owner or an org owner or admin may read its logs');
  return replicasWhere(db, eq(workloads.notebookId, id));
}

const present = (replica: Replica, l: AgentLogLine): WorkloadLogLine => ({
  time: new Date(l.time).toISOString(),
  seq: l.seq,
  replica: replica.workloadId,
  agentId: replica.agentId,
  stream: l.stream,
  line: l.line,
});

/**
 * The last `tail` lines of all the replicas, merged in time order (each replica's own order kept). A replica
 * whose agent does not answer is listed with the reason instead of failing the whole read.
 */
export async function readWorkloadLogs(deps: LogsDeps, replicas: Replica[], query: AgentLogQuery) {
  const answers = await Promise.all(
    replicas.map(async (r) => ({ replica: r, logs: await readReplica(deps, r, query) })),
  );
  const lines = answers
    .flatMap(({ replica, logs }) => (logs.ok ? logs.lines.map((l) => present(replica, l)) : []))
    .sort((a, b) => a.time.localeCompare(b.time) || a.replica.localeCompare(b.replica) || a.seq - b.seq);
  return {
    lines: lines.slice(Math.max(0, lines.length - query.tail)),
    replicas: answers.map(({ replica, logs }) => ({
      replica: replica.workloadId,
      agentId: replica.agentId,
      phase: replica.phase,
      ...(replica.version !== undefined ? { version: replica.version } : {}),
      ...(replica.endedAt ? { endedAt: replica.endedAt.toISOString() } : {}),
      ...(logs.ok ? {} : { error: logs.error }),
    })),
  };
}

/** One replica's lines; a live one whose agent holds none yet has none, not an error. */
async function readReplica(deps: LogsDeps, replica: Replica, query: AgentLogQuery): Promise<ReplicaLogs> {
  if (replica.unreachable) return { ok: false, error: replica.unreachable };
  const logs = await readReplicaLogs(deps.dataPlaneSigningKey, replica, query);
  return !logs.ok && logs.gone && replica.phase !== 'ended' ? { ok: true, lines: [] } : logs;
}

/**
 * Follows every replica at once: each one's backlog (the last `tail` lines) then its new lines go to `send`
 * as they come, until `signal` aborts. A replica whose follow ends is reported once through `onEnd`.
 */
export async function followWorkloadLogs(
  deps: LogsDeps,
  replicas: Replica[],
  query: AgentLogQuery,
  signal: AbortSignal,
  send: (line: WorkloadLogLine) => void,
  onEnd: (replica: Replica, reason: string) => void,
): Promise<void> {
  await Promise.all(
    replicas.map(async (r) => {
      const reason = await followReplicaLogs(deps.dataPlaneSigningKey, r, query, signal, (l) =>
        send(present(r, l)),
      );
      if (reason !== undefined) onEnd(r, reason);
    }),
  );
}
