import { newId } from '@meridian/protocol';
import { and, eq } from 'drizzle-orm';
import { requirePermission } from '../../auth/permissions.js';
import type { Actor } from '../../auth/principal.js';
import { modelVersions } from '../../db/schema.js';
import { AppError, conflict, invalidField } from '../../errors.js';
import type { CompletedPart } from '../../storage/object-store.js';
import { objectKeys } from '../../storage/object-store.js';
import type { ModelDeps } from './deps.js';
import { discard, ingest, ModelTooLargeError } from './ingest.js';
import {
  discardVersion,
  finishVersion,
  rejectUnusable,
  reserveVersion,
  type VersionInput,
} from './lifecycle.js';
import { aliasNamesOf, findModel, findOwnVersion, presentVersion, type VersionRow } from './records.js';
import { admitUpload, tooLarge } from './upload.js';

/** How long presigned part URLs stay valid. */
export const PART_URL_TTL_SECONDS = 3600;

/**
 * Starts a presigned multipart upload for a large file: the version number is reserved now, and the client
 * PUTs each part straight to storage, then calls complete. The declared size is checked against the limit
 * here and against the stored object at completion.
 */
export async function startMultipartUpload(
  deps: ModelDeps,
  actor: Actor,
  modelId: string,
  input: VersionInput & { sizeBytes: number; partCount: number },
) {
  const format = await admitUpload(deps, actor, modelId, input);
  if (input.sizeBytes > deps.maxModelBytes) throw tooLarge(deps.maxModelBytes);
  const orgId = actor.principal.orgId;
  const versionId = newId('modelVersion');
  const key = objectKeys.modelVersion(orgId, modelId, versionId);
  const { uploadId } = await deps.store.createMultipartUpload(key);
  let row: VersionRow;
  try {
    row = await reserveVersion(deps, actor, modelId, {
      ...input,
      ...format,
      versionId,
      uploadId,
      declaredBytes: input.sizeBytes,
    });
  } catch (err) {
    await deps.store.abortMultipartUpload(key, uploadId);
    throw err;
  }
  const parts = await deps.store.presignUploadParts(key, uploadId, input.partCount, PART_URL_TTL_SECONDS);
  return {
    version: presentVersion(row, []),
    uploadId,
    parts,
    expiresAt: new Date(Date.now() + PART_URL_TTL_SECONDS * 1000).toISOString(),
  };
}

/**
 * What an unfinished multipart upload already holds, and fresh URLs for the parts it still lacks (1 to
 * `partCount`), so a client that crashed or was stopped resumes without sending stored parts again.
 */
export async function listMultipartParts(
  deps: ModelDeps,
  actor: Actor,
  modelId: string,
  version: number,
  query: { partCount: number; versionId?: string | undefined },
) {
  requirePermission(actor.principal, 'models:write');
  const { partCount } = query;
  const model = await findModel(deps.db, actor.principal.orgId, modelId);
  const row = await findOwnVersion(deps.db, model, version, query.versionId);
  if (row.status !== 'uploading' || !row.uploadId) {
    throw conflict(`Version ${row.version} is not waiting for a multipart upload to complete`);
  }
  // Uploads started before part counts were kept have none to hold to.
  if (row.partCount !== null && partCount !== row.partCount) {
    throw invalidField('partCount', `the upload was started with ${row.partCount} parts, not ${partCount}`);
  }
  const stored = await deps.store.listUploadParts(row.objectKey, row.uploadId);
  const have = new Set(stored.map((part) => part.partNumber));
  const urls = await deps.store.presignUploadParts(
    row.objectKey,
    row.uploadId,
    partCount,
    PART_URL_TTL_SECONDS,
  );
  return {
    version: presentVersion(row, []),
    uploadId: row.uploadId,
    stored,
    parts: urls.filter((part) => !have.has(part.partNumber)),
    expiresAt: new Date(Date.now() + PART_URL_TTL_SECONDS * 1000).toISOString(),
  };
}

/** Takes the version's upload for this caller alone, so two concurrent completes cannot both proceed. */
async function claimUpload(deps: ModelDeps, row: VersionRow): Promise<string> {
  const uploadId = row.uploadId;
  if (row.status !== 'uploading' || !uploadId) {
    throw conflict(`Version ${row.version} is not waiting for a multipart upload to complete`);
  }
  const [claimed] = await deps.db
    .update(modelVersions)
    .set({ uploadId: null })
    .where(and(eq(modelVersions.id, row.id), eq(modelVersions.uploadId, uploadId)))
    .returning({ id: modelVersions.id });
  if (!claimed) throw conflict(`Version ${row.version} is already being completed`);
  return uploadId;
}

/**
 * Completes the upload in storage, then verifies the object by streaming it back: size (the declared one,
 * within the limit), sha256, and for ONNX a load with onnxruntime. A file that fails verification is deleted
 * with its version (413 / 422); a completion that storage refuses can be retried with corrected parts. A
 * completion naming the version's id is refused (409) once the number is another upload's (findOwnVersion).
 */
export async function completeMultipartUpload(
  deps: ModelDeps,
  actor: Actor,
  modelId: string,
  version: number,
  body: { parts: CompletedPart[]; versionId?: string | undefined },
) {
  requirePermission(actor.principal, 'models:write');
  const { parts } = body;
  const model = await findModel(deps.db, actor.principal.orgId, modelId);
  const found = await findOwnVersion(deps.db, model, version, body.versionId);
  const uploadId = await claimUpload(deps, found);
  const row = { ...found, uploadId: null };
  try {
    await deps.store.completeMultipartUpload(row.objectKey, uploadId, parts);
  } catch (err) {
    await deps.db.update(modelVersions).set({ uploadId }).where(eq(modelVersions.id, row.id));
    const reason = err instanceof Error ? err.message : String(err);
    throw new AppError('bad_request', `Storage refused to complete the upload: ${reason}`);
  }
  const stored = await deps.store.head(row.objectKey);
  if (stored && stored.sizeBytes > deps.maxModelBytes) {
    await discardVersion(deps, row);
    throw tooLarge(deps.maxModelBytes);
  }
  const object = await deps.store.get(row.objectKey);
  if (!object) throw new Error(`Completed upload of ${row.objectKey} but the object is missing`);
  let ingested: Awaited<ReturnType<typeof ingest>>;
  try {
    ingested = await ingest(object.body, {
      maxBytes: deps.maxModelBytes,
      inspectOnnx: row.runtime === 'onnx',
      consume: discard,
      ...(deps.tempDir ? { tempRoot: deps.tempDir } : {}),
    });
  } catch (err) {
    object.body.destroy();
    if (!(err instanceof ModelTooLargeError)) throw err;
    await discardVersion(deps, row);
    throw tooLarge(deps.maxModelBytes);
  }
  if (row.sizeBytes !== null && ingested.sizeBytes !== row.sizeBytes) {
    await discardVersion(deps, row);
    throw new AppError(
      'unprocessable',
      `The uploaded file has ${ingested.sizeBytes} bytes but ${row.sizeBytes} were declared; the version was discarded`,
    );
  }
  const signature = await rejectUnusable(deps, row, ingested);
  const ready = await finishVersion(deps, actor, row, ingested, signature);
  return presentVersion(ready, await aliasNamesOf(deps.db, ready.id));
}
