import { and, desc, eq, lt } from 'drizzle-orm';
import { requirePermission } from '../../auth/permissions.js';
import type { Actor } from '../../auth/principal.js';
import type { Database } from '../../db/client.js';
import { modelVersions } from '../../db/schema.js';
import { conflict } from '../../errors.js';
import type { ObjectStore } from '../../storage/object-store.js';
import { recordAudit } from '../audit/record.js';
import { addStoredBytes } from '../storage-accounting.js';
import { deployedConflict, deploymentsUsing } from './deployment-hook.js';
import type { ModelDeps } from './deps.js';
import { removeObjects } from './objects.js';
import {
  aliasesOf,
  aliasNamesOf,
  findModel,
  findOwnVersion,
  findVersion,
  presentVersion,
  requireReady,
  type VersionRow,
  versionName,
} from './records.js';

export async function listVersions(
  db: Database,
  actor: Actor,
  modelId: string,
  page: { limit: number; cursor?: number },
) {
  requirePermission(actor.principal, 'models:read');
  const orgId = actor.principal.orgId;
  await findModel(db, orgId, modelId);
  const rows = await db
    .select()
    .from(modelVersions)
    .where(
      and(
        eq(modelVersions.modelId, modelId),
        page.cursor !== undefined ? lt(modelVersions.version, page.cursor) : undefined,
      ),
    )
    .orderBy(desc(modelVersions.version))
    .limit(page.limit + 1);
  const items = rows.slice(0, page.limit);
  const last = items.at(-1);
  const aliases = await aliasesOf(db, orgId, [modelId]);
  const namesFor = (id: string) => aliases.filter((a) => a.versionId === id).map((a) => a.alias);
  return {
    items: items.map((r) => presentVersion(r, namesFor(r.id))),
    nextCursor: rows.length > page.limit && last ? String(last.version) : null,
  };
}

/** A version by number, alias or `latest`. */
export async function getVersion(db: Database, actor: Actor, modelId: string, ref: string) {
  requirePermission(actor.principal, 'models:read');
  await findModel(db, actor.principal.orgId, modelId);
  const row = await findVersion(db, modelId, ref);
  return presentVersion(row, await aliasNamesOf(db, row.id));
}

/** Versions are immutable: only their description, tags and metadata change (each replaced whole). */
export async function updateVersion(
  db: Database,
  actor: Actor,
  modelId: string,
  version: number,
  input: { description?: string; tags?: Record<string, string>; metadata?: Record<string, unknown> },
) {
  requirePermission(actor.principal, 'models:write');
  const orgId = actor.principal.orgId;
  const model = await findModel(db, orgId, modelId);
  const row = await findVersion(db, modelId, version);
  await db.transaction(async (tx) => {
    await tx.update(modelVersions).set(input).where(eq(modelVersions.id, row.id));
    await recordAudit(tx, actor, {
      orgId,
      action: 'model_version.update',
      targetType: 'model_version',
      targetId: row.id,
      metadata: { name: versionName(model.name, version), modelId, version, fields: Object.keys(input) },
    });
  });
  const updated = await findVersion(db, modelId, version);
  return presentVersion(updated, await aliasNamesOf(db, row.id));
}

/**
 * Deletes a version and its object. Refused (409) while an alias points at it or a deployment serves it.
 * An unfinished upload can be deleted too, which aborts it; naming its id (`versionId`) makes sure the number
 * is still that upload's (409 otherwise).
 */
export async function deleteVersion(
  deps: ModelDeps,
  actor: Actor,
  modelId: string,
  version: number,
  versionId?: string,
) {
  requirePermission(actor.principal, 'models:write');
  const orgId = actor.principal.orgId;
  const model = await findModel(deps.db, orgId, modelId);
  const row = await findOwnVersion(deps.db, model, version, versionId);
  await deps.db.transaction(async (tx) => {
    // Checked inside the transaction, so a deployment or alias made concurrently cannot point at nothing.
    const users = await deploymentsUsing(tx, [row.id]);
    if (users.length > 0) throw deployedConflict(`Version ${version}`, users, true);
    const aliases = await aliasNamesOf(tx, row.id);
    if (aliases.length > 0) {
      const names = aliases.map((a) => JSON.stringify(a)).join(', ');
      throw conflict(`Version ${version} is the target of alias ${names}; move or delete the alias first`);
    }
    await tx.delete(modelVersions).where(eq(modelVersions.id, row.id));
    if (row.status === 'ready') await addStoredBytes(tx, orgId, 'model', -(row.sizeBytes ?? 0));
    await recordAudit(tx, actor, {
      orgId,
      action: 'model_version.delete',
      targetType: 'model_version',
      targetId: row.id,
      metadata: { name: versionName(model.name, version), modelId, version, status: row.status },
    });
  });
  await removeObjects(deps, [row]);
}

/**
 * Bounds of a download URL's lifetime: a bearer link, so short by default and never past an hour. Deleting
 * the version removes its object, which revokes every URL signed for it at once.
 */
export const DOWNLOAD_URL_TTL = { defaultSeconds: 300, maxSeconds: 3600 } as const;

/** An expiring URL for a ready version that needs no other credential, plus what to verify the bytes by. */
export async function signDownload(store: ObjectStore, row: VersionRow, expiresInSeconds: number) {
  requireReady(row);
  const url = await store.presignGet(row.objectKey, expiresInSeconds);
  return {
    url,
    sha256: row.sha256 ?? '',
    sizeBytes: row.sizeBytes ?? 0,
    expiresAt: new Date(Date.now() + expiresInSeconds * 1000).toISOString(),
    version: row.version,
    fileName: row.fileName,
    format: row.format,
  };
}

export async function createDownloadUrl(
  deps: Pick<ModelDeps, 'db' | 'store'>,
  actor: Actor,
  modelId: string,
  ref: string,
  expiresInSeconds: number,
) {
  requirePermission(actor.principal, 'models:read');
  await findModel(deps.db, actor.principal.orgId, modelId);
  return signDownload(deps.store, await findVersion(deps.db, modelId, ref), expiresInSeconds);
}
