import { newId } from '@meridian/protocol';
import { and, desc, eq, lt } from 'drizzle-orm';
import { requirePermission } from '../../auth/permissions.js';
import type { Actor } from '../../auth/principal.js';
import type { Database } from '../../db/client.js';
import { type RUN_STATUSES, runs, runTags } from '../../db/schema.js';
import { AppError, conflict, notFound } from '../../errors.js';
import { recordAudit } from '../audit/record.js';
import { idCursor, splitPage } from '../pagination.js';
import { type ArtifactStoreDeps, deleteArtifactObjects, forgetArtifacts } from './artifact-cleanup.js';
import { findExperiment } from './experiments.js';
import { readRunDetail, readRunSummaries } from './run-detail.js';
import type { Reader } from './types.js';

export type RunStatus = (typeof RUN_STATUSES)[number];
type RunRow = typeof runs.$inferSelect;

export function presentRun(row: RunRow) {
  return {
    id: row.id,
    experimentId: row.experimentId,
    name: row.name,
    status: row.status,
    startedAt: row.startedAt.toISOString(),
    endedAt: row.endedAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
  };
}

/** The run `id` of the caller's org; another org's run is as missing as a deleted one. */
export async function findRun(db: Reader, orgId: string, id: string): Promise<RunRow> {
  const [row] = await db
    .select()
    .from(runs)
    .where(and(eq(runs.orgId, orgId), eq(runs.id, id)));
  if (!row) throw notFound('Run');
  return row;
}

const invalid = (path: string, message: string) =>
  new AppError('validation_failed', `${path} ${message}`, [{ path, message }]);

export interface CreateRunInput {
  name?: string;
  startedAt?: string;
  tags?: Record<string, string>;
}

export async function createRun(db: Database, actor: Actor, experimentId: string, input: CreateRunInput) {
  requirePermission(actor.principal, 'experiments:write');
  const orgId = actor.principal.orgId;
  const id = newId('run');
  await db.transaction(async (tx) => {
    await findExperiment(tx, orgId, experimentId);
    const name = input.name ?? `run-${id.slice(-8)}`;
    const startedAt = input.startedAt ? new Date(input.startedAt) : new Date();
    await tx.insert(runs).values({ id, orgId, experimentId, name, status: 'running', startedAt });
    const tags = Object.entries(input.tags ?? {}).map(([key, value]) => ({ runId: id, key, value }));
    if (tags.length > 0) await tx.insert(runTags).values(tags);
    await recordAudit(tx, actor, {
      orgId,
      action: 'run.create',
      targetType: 'run',
      targetId: id,
      metadata: { experimentId, name },
    });
  });
  return presentRun(await findRun(db, orgId, id));
}

export async function listRuns(
  db: Database,
  actor: Actor,
  experimentId: string,
  page: { limit: number; cursor?: string; status?: RunStatus },
) {
  requirePermission(actor.principal, 'experiments:read');
  const orgId = actor.principal.orgId;
  await findExperiment(db, orgId, experimentId);
  const after = idCursor(page.cursor, 'run');
  const rows = await db
    .select()
    .from(runs)
    .where(
      and(
        eq(runs.orgId, orgId),
        eq(runs.experimentId, experimentId),
        page.status ? eq(runs.status, page.status) : undefined,
        after ? lt(runs.id, after) : undefined,
      ),
    )
    .orderBy(desc(runs.id))
    .limit(page.limit + 1);
  const { items, nextCursor } = splitPage(rows, page.limit, (r) => r.id);
  const summaryOf = await readRunSummaries(
    db,
    items.map((r) => r.id),
  );
  return {
    items: items.map((r) => ({ ...presentRun(r), ...summaryOf(r.id) })),
    nextCursor,
  };
}

/** The run with its params, tags, the latest point of each metric and the model versions it produced. */
export async function getRun(db: Database, actor: Actor, id: string) {
  requirePermission(actor.principal, 'experiments:read');
  const orgId = actor.principal.orgId;
  const row = await findRun(db, orgId, id);
  return { ...presentRun(row), ...(await readRunDetail(db, orgId, id)) };
}

export interface UpdateRunInput {
  name?: string;
  status?: RunStatus;
  endedAt?: string;
}

/**
 * Renames a run or ends it. A running run may become finished, failed or killed, which stamps endedAt
 * (now unless given); an ended run stays ended: its status can be repeated but not changed.
 */
export async function updateRun(db: Database, actor: Actor, id: string, input: UpdateRunInput) {
  requirePermission(actor.principal, 'experiments:write');
  const orgId = actor.principal.orgId;
  await db.transaction(async (tx) => {
    const row = await findRun(tx, orgId, id);
    const changes: Partial<Pick<RunRow, 'name' | 'status' | 'endedAt'>> = {};
    if (input.name !== undefined) changes.name = input.name;
    const ending = input.status !== undefined && input.status !== 'running' && row.status === 'running';
    if (input.status !== undefined && input.status !== row.status && !ending) {
      throw conflict(`The run is ${row.status}; it cannot become ${input.status}`);
    }
    if (input.endedAt !== undefined && !ending) {
      throw invalid('endedAt', 'can only be given when a running run ends');
    }
    if (ending) {
      const endedAt = input.endedAt ? new Date(input.endedAt) : new Date();
      if (endedAt < row.startedAt) throw invalid('endedAt', 'must not be before startedAt');
      changes.status = input.status;
      changes.endedAt = endedAt;
    }
    // Repeating an ended run's status changes nothing, so it is neither written nor audited.
    if (Object.keys(changes).length === 0) return;
    await tx
      .update(runs)
      .set(changes)
      .where(and(eq(runs.orgId, orgId), eq(runs.id, id)));
    await recordAudit(tx, actor, {
      orgId,
      action: 'run.update',
      targetType: 'run',
      targetId: id,
      metadata: { ...changes, name: changes.name ?? row.name },
    });
  });
  return presentRun(await findRun(db, orgId, id));
}

/** Deletes a run with its params, metrics, tags and artifacts; model versions keep naming its id. */
export async function deleteRun(deps: ArtifactStoreDeps, actor: Actor, id: string) {
  requirePermission(actor.principal, 'experiments:write');
  const orgId = actor.principal.orgId;
  const removed = await deps.db.transaction(async (tx) => {
    const row = await findRun(tx, orgId, id);
    const keys = await forgetArtifacts(tx, orgId, { runId: id });
    await tx.delete(runs).where(and(eq(runs.orgId, orgId), eq(runs.id, id)));
    await recordAudit(tx, actor, {
      orgId,
      action: 'run.delete',
      targetType: 'run',
      targetId: id,
      metadata: { name: row.name, experimentId: row.experimentId, artifacts: keys.length },
    });
    return { row, keys };
  });
  await deleteArtifactObjects(deps, removed.keys);
  return presentRun(removed.row);
}
