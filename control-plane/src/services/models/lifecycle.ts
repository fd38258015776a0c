import { newId } from '@meridian/protocol';
import { and, eq, sql } from 'drizzle-orm';
import type { Actor } from '../../auth/principal.js';
import { models, modelVersions, runs } from '../../db/schema.js';
import { AppError, conflict, invalidField, notFound } from '../../errors.js';
import { objectKeys } from '../../storage/object-store.js';
import { recordAudit } from '../audit/record.js';
import { addStoredBytes } from '../storage-accounting.js';
import type { ModelDeps, Reader } from './deps.js';
import type { FormatInfo } from './formats.js';
import type { Ingested } from './ingest.js';
import { removeObjects } from './objects.js';
import { findModel, type VersionRow, versionName } from './records.js';

/** What the caller says about a version besides its bytes. */
export interface VersionInput {
  fileName: string;
  description?: string;
  runId?: string;
  tags?: Record<string, string>;
  metadata?: Record<string, unknown>;
}

/** A version may name the run it came from, which must be a run of the same org. */
export async function assertRunExists(db: Reader, orgId: string, runId: string): Promise<void> {
  const [run] = await db
    .select({ id: runs.id })
    .from(runs)
    .where(and(eq(runs.orgId, orgId), eq(runs.id, runId)));
  // runId passed the id pattern, so it is safe to quote.
  if (!run) throw invalidField('runId', `no run ${runId} in this organisation`);
}

/**
 * Hands out the model's next version number and records the version as `uploading`, in one transaction:
 * one past the highest version the model has (ready or still uploading), and never below `nextVersion`, one
 * past the highest that was ever ready. So a refused upload, whose row goes, gives its number back, while a
 * number people once used is never reused. The UPDATE takes the write lock first and the number is read in
 * the INSERT itself, so concurrent uploads never share one (the unique index on (model, version) stands guard).
 */
export async function reserveVersion(
  deps: ModelDeps,
  actor: Actor,
  modelId: string,
  input: VersionInput &
    FormatInfo & { uploadId?: string; declaredBytes?: number; partCount?: number; versionId?: string },
): Promise<VersionRow> {
  const orgId = actor.principal.orgId;
  const id = input.versionId ?? newId('modelVersion');
  return deps.db.transaction(async (tx) => {
    const [model] = await tx
      .update(models)
      .set({ updatedAt: new Date() })
      .where(and(eq(models.orgId, orgId), eq(models.id, modelId)))
      .returning({ floor: models.nextVersion, modelName: models.name });
    if (!model) throw notFound('Model');
    const highest = tx
      .select({ n: sql`coalesce(max(${modelVersions.version}), 0) + 1` })
      .from(modelVersions)
      .where(eq(modelVersions.modelId, modelId));
    const [row] = await tx
      .insert(modelVersions)
      .values({
        id,
        orgId,
        modelId,
        version: sql`max(${model.floor}, (${highest}))`,
        status: 'uploading',
        format: input.format,
        runtime: input.runtime,
        objectKey: objectKeys.modelVersion(orgId, modelId, id),
        fileName: input.fileName,
        sizeBytes: input.declaredBytes ?? null,
        description: input.description ?? '',
        tags: input.tags ?? {},
        metadata: input.metadata ?? {},
        runId: input.runId ?? null,
        uploadId: input.uploadId ?? null,
        partCount: input.partCount ?? null,
      })
      .returning();
    if (!row) throw new Error('insert returned no row');
    if (input.uploadId) {
      await recordAudit(tx, actor, {
        orgId,
        action: 'model_version.upload_start',
        targetType: 'model_version',
        targetId: id,
        metadata: {
          name: versionName(model.modelName, row.version),
          modelId,
          version: row.version,
          fileName: input.fileName,
        },
      });
    }
    return row;
  });
}

/**
 * Forgets a version whose upload failed or was refused: its row, and so its number, which the next upload
 * takes (reserveVersion), then whatever reached the store.
 */
export async function discardVersion(deps: ModelDeps, row: VersionRow): Promise<void> {
  await deps.db.delete(modelVersions).where(eq(modelVersions.id, row.id));
  await removeObjects(deps, [row]);
}

/**
 * Turns an unusable file into 422 after discarding its version: an empty file, or an ONNX file that
 * onnxruntime cannot load. Returns the ONNX signature (null for other formats).
 */
export async function rejectUnusable(deps: ModelDeps, row: VersionRow, ingested: Ingested) {
  const { inspection } = ingested;
  const reason =
    ingested.sizeBytes === 0
      ? 'The file is empty'
      : inspection && !inspection.ok
        ? inspection.reason
        : undefined;
  if (reason === undefined) return inspection?.ok ? inspection.signature : null;
  await discardVersion(deps, row);
  throw new AppError('unprocessable', reason);
}

/**
 * Marks an uploaded version ready with its digest and signature, keeps its number from being handed out
 * again, counts its bytes for the org and audits it, all in one transaction. A version deleted while it uploaded stays deleted: its object goes too.
 */
export async function finishVersion(
  deps: ModelDeps,
  actor: Actor,
  row: VersionRow,
  ingested: Omit<Ingested, 'inspection'>,
  signature: Record<string, unknown> | null,
): Promise<VersionRow> {
  const orgId = actor.principal.orgId;
  const finished = await deps.db.transaction(async (tx) => {
    const [updated] = await tx
      .update(modelVersions)
      .set({
        status: 'ready',
        sizeBytes: ingested.sizeBytes,
        sha256: ingested.sha256,
        signature,
        uploadId: null,
      })
      .where(and(eq(modelVersions.id, row.id), eq(modelVersions.status, 'uploading')))
      .returning();
    if (!updated) return undefined;
    // From now on the number is one people may have used: deleting the version must not free it.
    await tx
      .update(models)
      .set({ nextVersion: sql`max(${models.nextVersion}, ${row.version + 1})` })
      .where(eq(models.id, row.modelId));
    await addStoredBytes(tx, orgId, 'model', ingested.sizeBytes);
    // Read here rather than at reservation: the model may have been renamed while the bytes streamed.
    const model = await findModel(tx, orgId, row.modelId);
    await recordAudit(tx, actor, {
      orgId,
      action: 'model_version.create',
      targetType: 'model_version',
      targetId: row.id,
      metadata: {
        name: versionName(model.name, row.version),
        modelId: row.modelId,
        version: row.version,
        format: row.format,
        sizeBytes: ingested.sizeBytes,
        sha256: ingested.sha256,
      },
    });
    return updated;
  });
  if (!finished) {
    await removeObjects(deps, [{ ...row, uploadId: null }]);
    throw conflict(`Version ${row.version} was deleted while it was being uploaded`);
  }
  return finished;
}
