import { newId } from '@meridian/protocol';
import { and, desc, eq, lt, ne, sum } from 'drizzle-orm';
import { requirePermission } from '../../auth/permissions.js';
import type { Actor } from '../../auth/principal.js';
import type { Database } from '../../db/client.js';
import { modelAliases, models, modelVersions } from '../../db/schema.js';
import { violatesUnique } from '../../db/unique-violation.js';
import { conflict } from '../../errors.js';
import { recordAudit } from '../audit/record.js';
import { idCursor, splitPage } from '../pagination.js';
import { addStoredBytes } from '../storage-accounting.js';
import { deployedConflict, deploymentsUsing } from './deployment-hook.js';
import type { ModelDeps, Reader } from './deps.js';
import { removeObjects, sweepModelPrefix } from './objects.js';
import { assertModelAllowed } from './plan-limit.js';
import { aliasesOf, findModel, latestVersions, presentModel } from './records.js';

export interface ModelInput {
  name: string;
  description?: string;
  tags?: Record<string, string>;
}

async function assertNameFree(db: Reader, orgId: string, name: string, exceptId?: string) {
  const [taken] = await db
    .select({ id: models.id })
    .from(models)
    .where(
      and(eq(models.orgId, orgId), eq(models.name, name), exceptId ? ne(models.id, exceptId) : undefined),
    );
  if (taken) throw conflict(`A model named ${JSON.stringify(name)} already exists`);
}

/** The unique index catches the race two concurrent creates of one name would otherwise win both. */
async function present(db: Reader, orgId: string, id: string) {
  const row = await findModel(db, orgId, id);
  const [aliases, latest] = await Promise.all([aliasesOf(db, orgId, [id]), latestVersions(db, orgId, [id])]);
  return presentModel(row, aliases, latest.get(id) ?? null);
}

export async function createModel(db: Database, actor: Actor, input: ModelInput) {
  requirePermission(actor.principal, 'models:write');
  const orgId = actor.principal.orgId;
  const id = newId('model');
  try {
    await db.transaction(async (tx) => {
      await assertNameFree(tx, orgId, input.name);
      await assertModelAllowed(tx, orgId);
      await tx.insert(models).values({
        id,
        orgId,
        name: input.name,
        description: input.description ?? '',
        tags: input.tags ?? {},
        updatedAt: new Date(),
      });
      await recordAudit(tx, actor, {
        orgId,
        action: 'model.create',
        targetType: 'model',
        targetId: id,
        metadata: { name: input.name },
      });
    });
  } catch (err) {
    if (violatesUnique(err, 'models.org_id, models.name'))
      throw conflict(`A model named ${JSON.stringify(input.name)} already exists`);
    throw err;
  }
  return present(db, orgId, id);
}

export async function listModels(
  db: Database,
  actor: Actor,
  page: { limit: number; cursor?: string; name?: string },
) {
  requirePermission(actor.principal, 'models:read');
  const orgId = actor.principal.orgId;
  const after = idCursor(page.cursor, 'mdl');
  const rows = await db
    .select()
    .from(models)
    .where(
      and(
        eq(models.orgId, orgId),
        after ? lt(models.id, after) : undefined,
        page.name ? eq(models.name, page.name) : undefined,
      ),
    )
    .orderBy(desc(models.id))
    .limit(page.limit + 1);
  const { items, nextCursor } = splitPage(rows, page.limit, (r) => r.id);
  const ids = items.map((r) => r.id);
  const [aliases, latest] = await Promise.all([aliasesOf(db, orgId, ids), latestVersions(db, orgId, ids)]);
  return {
    items: items.map((r) => presentModel(r, aliases, latest.get(r.id) ?? null)),
    nextCursor,
  };
}

export async function getModel(db: Database, actor: Actor, id: string) {
  requirePermission(actor.principal, 'models:read');
  return present(db, actor.principal.orgId, id);
}

/** Renames or re-describes a model; `tags` replaces the whole tag map. */
export async function updateModel(db: Database, actor: Actor, id: string, input: Partial<ModelInput>) {
  requirePermission(actor.principal, 'models:write');
  const orgId = actor.principal.orgId;
  try {
    await db.transaction(async (tx) => {
      const model = await findModel(tx, orgId, id);
      if (input.name !== undefined) await assertNameFree(tx, orgId, input.name, id);
      await tx
        .update(models)
        .set({ ...input, updatedAt: new Date() })
        .where(and(eq(models.orgId, orgId), eq(models.id, id)));
      await recordAudit(tx, actor, {
        orgId,
        action: 'model.update',
        targetType: 'model',
        targetId: id,
        metadata: { name: input.name ?? model.name, fields: Object.keys(input) },
      });
    });
  } catch (err) {
    if (violatesUnique(err, 'models.org_id, models.name'))
      throw conflict(`A model named ${JSON.stringify(input.name)} already exists`);
    throw err;
  }
  return present(db, orgId, id);
}

/**
 * Deletes a model with all its versions and aliases, and then their objects. Refused while any version is
 * deployed. The rows go first: an object whose delete fails afterwards is an orphan, never a dangling row.
 */
export async function deleteModel(deps: ModelDeps, actor: Actor, id: string): Promise<void> {
  requirePermission(actor.principal, 'models:write');
  const orgId = actor.principal.orgId;
  const model = await findModel(deps.db, orgId, id);
  const versions = await deps.db
    .select()
    .from(modelVersions)
    .where(and(eq(modelVersions.orgId, orgId), eq(modelVersions.modelId, id)));
  await deps.db.transaction(async (tx) => {
    // Inside the transaction, so a deployment made concurrently cannot be left serving a deleted version.
    const users = await deploymentsUsing(
      tx,
      versions.map((v) => v.id),
    );
    if (users.length > 0) throw deployedConflict(`Model ${JSON.stringify(model.name)}`, users, false);
    const readyBytes = and(eq(modelVersions.modelId, id), eq(modelVersions.status, 'ready'));
    const [total] = await tx
      .select({ bytes: sum(modelVersions.sizeBytes) })
      .from(modelVersions)
      .where(readyBytes);
    await tx.delete(modelAliases).where(eq(modelAliases.modelId, id));
    await tx.delete(modelVersions).where(eq(modelVersions.modelId, id));
    await tx.delete(models).where(and(eq(models.orgId, orgId), eq(models.id, id)));
    await addStoredBytes(tx, orgId, 'model', -Number(total?.bytes ?? 0));
    await recordAudit(tx, actor, {
      orgId,
      action: 'model.delete',
      targetType: 'model',
      targetId: id,
      metadata: { name: model.name, versions: versions.length },
    });
  });
  await removeObjects(deps, versions);
  await sweepModelPrefix(deps, orgId, id);
}
