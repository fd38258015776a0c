import { WORKLOAD_PHASES, type WorkloadPhase } from '@meridian/protocol';
import { and, count, eq, inArray, or } from 'drizzle-orm';
import {
  deploymentRevisions,
  deployments,
  models,
  modelVersions,
  type StartProblem,
  workloads,
} from '../../db/schema.js';
import { notFound } from '../../errors.js';
import type { Reader } from '../models/deps.js';
import { latestRollouts } from '../rollouts/present.js';

export type DeploymentRow = typeof deployments.$inferSelect;

/** The deployment `id` of the caller's org; another org's deployment is as missing as a deleted one. */
export async function findDeployment(db: Reader, orgId: string, id: string): Promise<DeploymentRow> {
  const [row] = await db
    .select()
    .from(deployments)
    .where(and(eq(deployments.orgId, orgId), eq(deployments.id, id)));
  if (!row) throw notFound('Deployment');
  return row;
}

/** The model version a revision serves, as the API shows it. */
interface Serving {
  versionId: string;
  version: number;
  requested: string;
}

async function currentRevisions(db: Reader, rows: DeploymentRow[]): Promise<Map<string, Serving>> {
  if (rows.length === 0) return new Map();
  const found = await db
    .select({
      deploymentId: deploymentRevisions.deploymentId,
      versionId: deploymentRevisions.modelVersionId,
      version: modelVersions.version,
      requested: deploymentRevisions.requested,
    })
    .from(deploymentRevisions)
    .innerJoin(modelVersions, eq(modelVersions.id, deploymentRevisions.modelVersionId))
    .where(
      or(
        ...rows.map((r) =>
          and(eq(deploymentRevisions.deploymentId, r.id), eq(deploymentRevisions.revision, r.revision)),
        ),
      ),
    );
  return new Map(found.map(({ deploymentId, ...serving }) => [deploymentId, serving]));
}

type Replicas = Record<WorkloadPhase, number> & { total: number };

const noReplicas = (): Replicas => ({
  ...(Object.fromEntries(WORKLOAD_PHASES.map((p) => [p, 0])) as Record<WorkloadPhase, number>),
  total: 0,
});

/** How many workloads each deployment has in each phase, whatever revision they serve. */
async function replicaCounts(db: Reader, ids: string[]): Promise<Map<string, Replicas>> {
  const counts = new Map<string, Replicas>();
  for (const id of ids) counts.set(id, noReplicas());
  if (ids.length === 0) return counts;
  const rows = await db
    .select({ deploymentId: workloads.deploymentId, phase: workloads.phase, n: count() })
    .from(workloads)
    .where(inArray(workloads.deploymentId, ids))
    .groupBy(workloads.deploymentId, workloads.phase);
  for (const row of rows) {
    const entry = row.deploymentId === null ? undefined : counts.get(row.deploymentId);
    if (!entry) continue;
    entry[row.phase] += row.n;
    entry.total += row.n;
  }
  return counts;
}

const iso = (d: Date | null) => d?.toISOString() ?? null;

/**
 * How the newest replica of each deployment's current revision started: when it was scheduled, pulled its
 * model, was loaded and ready, and served its first call (each null until it happens; no pull time when the
 * model was already in the agent's cache).
 */
async function startups(db: Reader, rows: DeploymentRow[]) {
  const found = new Map<string, Startup>();
  if (rows.length === 0) return found;
  const replicas = await db
    .select()
    .from(workloads)
    .where(or(...rows.map((r) => and(eq(workloads.deploymentId, r.id), eq(workloads.revision, r.revision)))));
  for (const w of replicas.sort((a, b) => (a.id < b.id ? -1 : 1))) {
    if (!w.deploymentId) continue;
    found.set(w.deploymentId, {
      replicaId: w.id,
      attempt: w.attempt,
      scheduledAt: iso(w.placedAt),
      pullingAt: iso(w.pullingAt),
      pulledAt: iso(w.loadingAt),
      readyAt: iso(w.readyAt),
      firstCallAt: iso(w.firstCallAt),
    });
  }
  return found;
}

export interface Startup {
  replicaId: string;
  attempt: number;
  scheduledAt: string | null;
  pullingAt: string | null;
  pulledAt: string | null;
  readyAt: string | null;
  firstCallAt: string | null;
}

/** Deployments as the API shows them: their model, the version the current revision serves, replica counts. */
export async function presentDeployments(db: Reader, rows: DeploymentRow[]) {
  const ids = rows.map((r) => r.id);
  const modelIds = [...new Set(rows.map((r) => r.modelId))];
  const [names, serving, replicas, started, rollouts] = await Promise.all([
    modelIds.length === 0
      ? []
      : db.select({ id: models.id, name: models.name }).from(models).where(inArray(models.id, modelIds)),
    currentRevisions(db, rows),
    replicaCounts(db, ids),
    startups(db, rows),
    latestRollouts(db, ids),
  ]);
  const modelNames = new Map(names.map((m) => [m.id, m.name]));
  return rows.map((row) => {
    const current = serving.get(row.id);
    // Written in the same transaction as the deployment row and never deleted before it.
    if (!current) throw new Error(`deployment ${row.id} has no revision ${row.revision}`);
    return {
      id: row.id,
      name: row.name,
      modelId: row.modelId,
      modelName: modelNames.get(row.modelId) ?? '',
      revision: row.revision,
      version: { id: current.versionId, version: current.version, requested: current.requested },
      runtime: row.runtime,
      image: row.image,
      gpuType: row.gpuType,
      gpuCount: row.gpuCount,
      minReplicas: row.minReplicas,
      maxReplicas: row.maxReplicas,
      targetConcurrency: row.targetConcurrency,
      scaleUpDelaySeconds: row.scaleUpDelaySeconds,
      scaleDownDelaySeconds: row.scaleDownDelaySeconds,
      scaleToZeroAfterSeconds: row.scaleToZeroAfterSeconds,
      holdTimeoutSeconds: row.holdTimeoutSeconds,
      desiredReplicas: row.desiredReplicas,
      batching: row.batching ?? null,
      deterministic: row.deterministic,
      status: row.status,
      statusReason: row.statusReason,
      startProblem: presentStartProblem(row.startProblem),
      replicas: replicas.get(row.id) ?? noReplicas(),
      startup: started.get(row.id) ?? null,
      rollout: rollouts.get(row.id) ?? null,
      createdBy: row.createdBy,
      createdAt: row.createdAt.toISOString(),
      updatedAt: row.updatedAt.toISOString(),
    };
  });
}

/** A start problem as the API shows it: its retry time as an ISO date. */
function presentStartProblem(p: StartProblem | null) {
  if (!p) return null;
  return {
    kind: p.kind,
    message: p.message,
    ...(p.retryAt !== undefined ? { retryAt: new Date(p.retryAt).toISOString() } : {}),
  };
}

export type DeploymentView = Awaited<ReturnType<typeof presentDeployments>>[number];

/** One deployment as the API shows it. */
export async function presentDeployment(db: Reader, row: DeploymentRow): Promise<DeploymentView> {
  const [view] = await presentDeployments(db, [row]);
  if (!view) throw new Error('presentDeployments returned nothing');
  return view;
}
