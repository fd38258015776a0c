import type { AgentRuntime, AgentStatus, GpuType, HostInventory, WorkloadPhase } from '@meridian/protocol';
import { and, type Column, eq, isNull, type SQL, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import {
  agents,
  agentWorkloadReports,
  type BatchingSettings,
  type DeploymentStatus,
  deploymentRevisions,
  deployments,
  modelVersions,
  type NotebookStatus,
  notebookSessions,
  notebooks,
  type StartProblem,
  workloads,
} from '../../db/schema.js';

export interface AgentView {
  id: string;
  status: AgentStatus;
  runtimes: AgentRuntime[];
  inventory: HostInventory;
  dataPlaneUrl: string;
  /** Generation of its data-plane key: the edge derives the key it signs with from it. */
  keyGeneration: number;
  lastHeartbeatAt: number;
}

/** A workload row joined with what its agent last reported about it. */
export interface WorkloadView {
  id: string;
  kind: 'model' | 'notebook';
  orgId: string;
  deploymentId: string | null;
  revision: number | null;
  notebookId: string | null;
  agentId: string | null;
  gpuType: GpuType;
  gpuCount: number;
  gpuMemoryMiB: number;
  diskBytes: number;
  phase: WorkloadPhase;
  reason: string | null;
  pendingReason: string | null;
  retireAt: number | null;
  placedAt: number | null;
  pullingAt: number | null;
  loadingAt: number | null;
  readyAt: number | null;
  firstCallAt: number | null;
  attempt: number;
  failedAt: number | null;
  avoidAgents: string[];
  report: {
    phase: WorkloadPhase;
    reason: string | null;
    endpoint: string | null;
    lastActivityAt: number | null;
    /** When the heartbeat carrying it arrived: the time of the phase it reports. */
    reportedAt: number;
  } | null;
}

export interface DeploymentView {
  id: string;
  orgId: string;
  name: string;
  runtime: 'onnx' | 'container';
  gpuType: GpuType;
  gpuCount: number;
  minReplicas: number;
  maxReplicas: number;
  targetConcurrency: number;
  scaleUpDelaySeconds: number;
  scaleDownDelaySeconds: number;
  scaleToZeroAfterSeconds: number | null;
  /** How long the edge holds a call while no replica is ready (routing carries it). */
  holdTimeoutSeconds: number;
  /** The replicas wanted now (the autoscaler's target); the scheduler converges to it. */
  desiredReplicas: number;
  deterministic: boolean;
  batching: BatchingSettings | null;
  revision: number;
  status: DeploymentStatus;
  statusReason: string | null;
  /** Why it cannot start, as the last tick stored it (./start-failure.ts `startProblemOf`). */
  startProblem: StartProblem | null;
  /** Per revision: the model version it serves and that version's file size. */
  revisions: Map<number, { versionId: string; version: number; sizeBytes: number }>;
}

export interface NotebookView {
  id: string;
  orgId: string;
  gpuType: GpuType;
  gpuCount: number;
  idleTimeoutSeconds: number;
  desired: 'running' | 'stopped';
  status: NotebookStatus;
  statusReason: string | null;
  endpoint: string | null;
  lastActivityAt: number | null;
  openSession: { id: string; startedAt: number } | null;
}

/** Everything one scheduler tick decides from, read at its start. */
export interface ClusterView {
  now: number;
  agents: Map<string, AgentView>;
  workloads: WorkloadView[];
  deployments: DeploymentView[];
  notebooks: NotebookView[];
}

const ms = (d: Date | null) => (d === null ? null : d.getTime());
const byId = <T extends { id: string }>(a: T, b: T) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Ids per query. */
const CHUNK = 2_000;

/**
 * `column IN ids`, with the ids as one JSON parameter: the statement's text is the same whatever their number
 * (libsql prepares it once), and drizzle builds one parameter instead of hundreds.
 */
const among = (column: Column, ids: string[]): SQL =>
  sql`${column} in (select value from json_each(${JSON.stringify(ids)}))`;

/** Rows of one kind, all of them or only those with the given ids (read in chunks). */
async function readSome<T>(ids: string[] | undefined, read: (ids?: string[]) => Promise<T[]>): Promise<T[]> {
  if (ids === undefined) return read();
  const out: T[] = [];
  for (let i = 0; i < ids.length; i += CHUNK) out.push(...(await read(ids.slice(i, i + CHUNK))));
  return out;
}

/** Agents, all or those named (a named agent that is not returned no longer exists). */
export function readAgents(db: Database, ids?: string[]): Promise<AgentView[]> {
  return readSome(ids, async (some) => {
    const rows = await db
      .select()
      .from(agents)
      .where(some ? among(agents.id, some) : undefined);
    return rows.map((a) => ({
      id: a.id,
      status: a.status,
      runtimes: a.runtimes,
      inventory: a.inventory,
      dataPlaneUrl: a.dataPlaneUrl,
      keyGeneration: a.dataPlaneKeyGeneration,
      lastHeartbeatAt: a.lastHeartbeatAt.getTime(),
    }));
  });
}

/** Workloads with their agent's report, all or those named. */
export function readWorkloads(db: Database, ids?: string[]): Promise<WorkloadView[]> {
  return readSome(ids, async (some) => {
    const rows = await db
      .select({ w: workloads, r: agentWorkloadReports })
      .from(workloads)
      .leftJoin(
        agentWorkloadReports,
        and(
          eq(agentWorkloadReports.agentId, workloads.agentId),
          eq(agentWorkloadReports.workloadId, workloads.id),
        ),
      )
      .where(some ? among(workloads.id, some) : undefined);
    return rows.map(({ w, r }) => ({
      id: w.id,
      kind: w.kind,
      orgId: w.orgId,
      deploymentId: w.deploymentId,
      revision: w.revision,
      notebookId: w.notebookId,
      agentId: w.agentId,
      gpuType: w.gpuType,
      gpuCount: w.gpuCount,
      gpuMemoryMiB: w.gpuMemoryMiB,
      diskBytes: w.diskBytes,
      phase: w.phase,
      reason: w.reason,
      pendingReason: w.pendingReason,
      retireAt: ms(w.retireAt),
      placedAt: ms(w.placedAt),
      pullingAt: ms(w.pullingAt),
      loadingAt: ms(w.loadingAt),
      readyAt: ms(w.readyAt),
      firstCallAt: ms(w.firstCallAt),
      attempt: w.attempt,
      failedAt: ms(w.failedAt),
      avoidAgents: w.avoidAgents ?? [],
      report: r
        ? {
            phase: r.phase,
            reason: r.reason,
            endpoint: r.endpoint,
            lastActivityAt: ms(r.lastActivityAt),
            reportedAt: r.updatedAt.getTime(),
          }
        : null,
    }));
  });
}

/** Deployments with their revisions' model versions, all or those named. */
export function readDeployments(db: Database, ids?: string[]): Promise<DeploymentView[]> {
  return readSome(ids, async (some) => {
    const rows = await db
      .select()
      .from(deployments)
      .where(some ? among(deployments.id, some) : undefined);
    const revisionRows = await db
      .select({
        deploymentId: deploymentRevisions.deploymentId,
        revision: deploymentRevisions.revision,
        versionId: modelVersions.id,
        version: modelVersions.version,
        sizeBytes: modelVersions.sizeBytes,
      })
      .from(deploymentRevisions)
      .innerJoin(modelVersions, eq(modelVersions.id, deploymentRevisions.modelVersionId))
      .where(some ? among(deploymentRevisions.deploymentId, some) : undefined);
    const revisionsOf = new Map<string, DeploymentView['revisions']>();
    for (const r of revisionRows) {
      const map = revisionsOf.get(r.deploymentId) ?? new Map();
      map.set(r.revision, { versionId: r.versionId, version: r.version, sizeBytes: r.sizeBytes ?? 0 });
      revisionsOf.set(r.deploymentId, map);
    }
    return rows.map((d) => ({
      id: d.id,
      orgId: d.orgId,
      name: d.name,
      runtime: d.runtime,
      gpuType: d.gpuType,
      gpuCount: d.gpuCount,
      minReplicas: d.minReplicas,
      maxReplicas: d.maxReplicas,
      targetConcurrency: d.targetConcurrency,
      scaleUpDelaySeconds: d.scaleUpDelaySeconds,
      scaleDownDelaySeconds: d.scaleDownDelaySeconds,
      scaleToZeroAfterSeconds: d.scaleToZeroAfterSeconds,
      holdTimeoutSeconds: d.holdTimeoutSeconds,
      desiredReplicas: d.desiredReplicas,
      deterministic: d.deterministic,
      batching: d.batching,
      revision: d.revision,
      status: d.status,
      statusReason: d.statusReason,
      startProblem: d.startProblem,
      revisions: revisionsOf.get(d.id) ?? new Map(),
    }));
  });
}

/** Notebooks with their open session, all or those named. */
export function readNotebooks(db: Database, ids?: string[]): Promise<NotebookView[]> {
  return readSome(ids, async (some) => {
    const rows = await db
      .select()
      .from(notebooks)
      .where(some ? among(notebooks.id, some) : undefined);
    const openSessions = await db
      .select({
        id: notebookSessions.id,
        notebookId: notebookSessions.notebookId,
        startedAt: notebookSessions.startedAt,
      })
      .from(notebookSessions)
      .where(
        some
          ? and(isNull(notebookSessions.endedAt), among(notebookSessions.notebookId, some))
          : isNull(notebookSessions.endedAt),
      );
    const sessionOf = new Map(
      openSessions.map((s) => [s.notebookId, { id: s.id, startedAt: s.startedAt.getTime() }]),
    );
    return rows.map((n) => ({
      id: n.id,
      orgId: n.orgId,
      gpuType: n.gpuType,
      gpuCount: n.gpuCount,
      idleTimeoutSeconds: n.idleTimeoutSeconds,
      desired: n.desired,
      status: n.status,
      statusReason: n.statusReason,
      endpoint: n.endpoint,
      lastActivityAt: ms(n.lastActivityAt),
      openSession: sessionOf.get(n.id) ?? null,
    }));
  });
}

/** The whole cluster read from the database (./cluster-cache.ts keeps it between ticks instead). */
export async function loadClusterView(db: Database, now: number): Promise<ClusterView> {
  const agentRows = await readAgents(db);
  const workloadRows = await readWorkloads(db);
  const deploymentRows = await readDeployments(db);
  const notebookRows = await readNotebooks(db);
  return {
    now,
    agents: new Map(agentRows.map((a) => [a.id, a])),
    workloads: workloadRows.sort(byId),
    deployments: deploymentRows.sort(byId),
    notebooks: notebookRows.sort(byId),
  };
}
