import { and, eq } from 'drizzle-orm';
import { requirePermission } from '../../auth/permissions.js';
import type { Actor } from '../../auth/principal.js';
import type { Database } from '../../db/client.js';
import { modelAliases } from '../../db/schema.js';
import { AppError } from '../../errors.js';
import { recordAudit } from '../audit/record.js';
import { findModel, findVersion, requireReady } from './records.js';

/** Points `alias` at a ready version, creating it or moving it from wherever it pointed before. */
export async function setAlias(db: Database, actor: Actor, modelId: string, alias: string, version: number) {
  requirePermission(actor.principal, 'models:write');
  const orgId = actor.principal.orgId;
  // Its name goes into the audit entry, which is read by people.
  const model = await findModel(db, orgId, modelId);
  const target = await findVersion(db, modelId, version);
  requireReady(target);
  const updatedAt = new Date();
  const previous = await db.transaction(async (tx) => {
    const [before] = await tx
      .select({ versionId: modelAliases.versionId })
      .from(modelAliases)
      .where(and(eq(modelAliases.modelId, modelId), eq(modelAliases.alias, alias)));
    await tx
      .insert(modelAliases)
      .values({ orgId, modelId, alias, versionId: target.id, updatedAt })
      .onConflictDoUpdate({
        target: [modelAliases.modelId, modelAliases.alias],
        set: { versionId: target.id, updatedAt },
      });
    await recordAudit(tx, actor, {
      orgId,
      action: 'model_alias.set',
      targetType: 'model',
      targetId: modelId,
      metadata: {
        name: model.name,
        alias,
        version,
        versionId: target.id,
        previousVersionId: before?.versionId ?? null,
      },
    });
    return before?.versionId ?? null;
  });
  return {
    modelId,
    alias,
    version,
    versionId: target.id,
    moved: previous !== null,
    updatedAt: updatedAt.toISOString(),
  };
}

export async function deleteAlias(db: Database, actor: Actor, modelId: string, alias: string): Promise<void> {
  requirePermission(actor.principal, 'models:write');
  const orgId = actor.principal.orgId;
  // Its name goes into the audit entry, which is read by people.
  const model = await findModel(db, orgId, modelId);
  await db.transaction(async (tx) => {
    const removed = await tx
      .delete(modelAliases)
      .where(and(eq(modelAliases.modelId, modelId), eq(modelAliases.alias, alias)))
      .returning({ versionId: modelAliases.versionId });
    if (removed.length === 0)
      throw new AppError('not_found', `Model ${model.name} has no alias ${JSON.stringify(alias)}`);
    await recordAudit(tx, actor, {
      orgId,
      action: 'model_alias.delete',
      targetType: 'model',
      targetId: modelId,
      metadata: { name: model.name, alias, versionId: removed[0]?.versionId },
    });
  });
}
