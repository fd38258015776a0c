import { newId } from '@meridian/protocol';
import { and, desc, eq, lt, ne } from 'drizzle-orm';
import { requirePermission } from '../../auth/permissions.js';
import type { Actor } from '../../auth/principal.js';
import type { Database } from '../../db/client.js';
import { experiments } from '../../db/schema.js';
import { conflict, notFound } from '../../errors.js';
import { recordAudit } from '../audit/record.js';
import { idCursor, splitPage } from '../pagination.js';
import { type ArtifactStoreDeps, deleteArtifactObjects, forgetArtifacts } from './artifact-cleanup.js';

type ExperimentRow = typeof experiments.$inferSelect;
type Reader = Pick<Database, 'select'>;

export interface ExperimentInput {
  name: string;
  description?: string;
  tags?: Record<string, string>;
}

export function presentExperiment(row: ExperimentRow) {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    tags: row.tags,
    createdAt: row.createdAt.toISOString(),
  };
}

/** The experiment `id` of the caller's org; another org's experiment is as missing as a deleted one. */
export async function findExperiment(db: Reader, orgId: string, id: string): Promise<ExperimentRow> {
  const [row] = await db
    .select()
    .from(experiments)
    .where(and(eq(experiments.orgId, orgId), eq(experiments.id, id)));
  if (!row) throw notFound('Experiment');
  return row;
}

async function assertNameFree(db: Reader, orgId: string, name: string, exceptId?: string) {
  const [taken] = await db
    .select({ id: experiments.id })
    .from(experiments)
    .where(
      and(
        eq(experiments.orgId, orgId),
        eq(experiments.name, name),
        exceptId ? ne(experiments.id, exceptId) : undefined,
      ),
    );
  if (taken) throw conflict(`An experiment named ${JSON.stringify(name)} already exists`);
}

export async function createExperiment(db: Database, actor: Actor, input: ExperimentInput) {
  requirePermission(actor.principal, 'experiments:write');
  const orgId = actor.principal.orgId;
  const id = newId('experiment');
  await db.transaction(async (tx) => {
    await assertNameFree(tx, orgId, input.name);
    await tx.insert(experiments).values({
      id,
      orgId,
      name: input.name,
      description: input.description ?? '',
      tags: input.tags ?? {},
    });
    await recordAudit(tx, actor, {
      orgId,
      action: 'experiment.create',
      targetType: 'experiment',
      targetId: id,
      metadata: { name: input.name },
    });
  });
  return presentExperiment(await findExperiment(db, orgId, id));
}

export async function listExperiments(db: Database, actor: Actor, page: { limit: number; cursor?: string }) {
  requirePermission(actor.principal, 'experiments:read');
  const after = idCursor(page.cursor, 'exp');
  const rows = await db
    .select()
    .from(experiments)
    .where(and(eq(experiments.orgId, actor.principal.orgId), after ? lt(experiments.id, after) : undefined))
    .orderBy(desc(experiments.id))
    .limit(page.limit + 1);
  const { items, nextCursor } = splitPage(rows, page.limit, (r) => r.id);
  return { items: items.map(presentExperiment), nextCursor };
}

export async function getExperiment(db: Database, actor: Actor, id: string) {
  requirePermission(actor.principal, 'experiments:read');
  return presentExperiment(await findExperiment(db, actor.principal.orgId, id));
}

/** Changes the fields given; `tags`, when given, replaces the whole map. */
export async function updateExperiment(
  db: Database,
  actor: Actor,
  id: string,
  patch: Partial<ExperimentInput>,
) {
  requirePermission(actor.principal, 'experiments:write');
  const orgId = actor.principal.orgId;
  await db.transaction(async (tx) => {
    const experiment = await findExperiment(tx, orgId, id);
    if (patch.name !== undefined) await assertNameFree(tx, orgId, patch.name, id);
    const changes = {
      ...(patch.name === undefined ? {} : { name: patch.name }),
      ...(patch.description === undefined ? {} : { description: patch.description }),
      ...(patch.tags === undefined ? {} : { tags: patch.tags }),
    };
    if (Object.keys(changes).length > 0) {
      await tx
        .update(experiments)
        .set(changes)
        .where(and(eq(experiments.orgId, orgId), eq(experiments.id, id)));
    }
    await recordAudit(tx, actor, {
      orgId,
      action: 'experiment.update',
      targetType: 'experiment',
      targetId: id,
      metadata: { name: patch.name ?? experiment.name, fields: Object.keys(changes) },
    });
  });
  return presentExperiment(await findExperiment(db, orgId, id));
}

/** Deletes the experiment with its runs and their artifacts, giving the artifacts' bytes back to the org. */
export async function deleteExperiment(deps: ArtifactStoreDeps, actor: Actor, id: string) {
  requirePermission(actor.principal, 'experiments:write');
  const orgId = actor.principal.orgId;
  const removed = await deps.db.transaction(async (tx) => {
    const row = await findExperiment(tx, orgId, id);
    const keys = await forgetArtifacts(tx, orgId, { experimentId: id });
    await tx.delete(experiments).where(and(eq(experiments.orgId, orgId), eq(experiments.id, id)));
    await recordAudit(tx, actor, {
      orgId,
      action: 'experiment.delete',
      targetType: 'experiment',
      targetId: id,
      metadata: { name: row.name, artifacts: keys.length },
    });
    return { row, keys };
  });
  await deleteArtifactObjects(deps, removed.keys);
  return presentExperiment(removed.row);
}
