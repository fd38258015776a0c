import type { Readable } from 'node:stream';
import { requirePermission } from '../../auth/permissions.js';
import type { Actor } from '../../auth/principal.js';
import { AppError } from '../../errors.js';
import type { ModelDeps } from './deps.js';
import { formatOf } from './formats.js';
import { ingest, ModelTooLargeError } from './ingest.js';
import {
  assertRunExists,
  discardVersion,
  finishVersion,
  rejectUnusable,
  reserveVersion,
  type VersionInput,
} from './lifecycle.js';
import { aliasNamesOf, findModel, presentVersion } from './records.js';

export const tooLarge = (maxBytes: number) =>
  new AppError('payload_too_large', `A model file may be at most ${maxBytes} bytes`);

/** Checks shared by both upload paths, before a version number is handed out. */
export async function admitUpload(deps: ModelDeps, actor: Actor, modelId: string, input: VersionInput) {
  requirePermission(actor.principal, 'models:write');
  const orgId = actor.principal.orgId;
  await findModel(deps.db, orgId, modelId);
  const format = formatOf(input.fileName);
  if (input.runId) await assertRunExists(deps.db, orgId, input.runId);
  return format;
}

/**
 * Creates a version from a streamed body: the bytes flow through a sha256 + size counter into the object
 * store (and, for ONNX, into a temp file that onnxruntime loads afterwards). Past the size limit the upload
 * stops and leaves nothing behind (413); an ONNX file that does not load is deleted again (422).
 */
export async function uploadVersion(
  deps: ModelDeps,
  actor: Actor,
  modelId: string,
  input: VersionInput,
  body: Readable,
  declaredBytes: number | undefined,
) {
  const format = await admitUpload(deps, actor, modelId, input);
  if (declaredBytes !== undefined && declaredBytes > deps.maxModelBytes) throw tooLarge(deps.maxModelBytes);
  const row = await reserveVersion(deps, actor, modelId, { ...input, ...format });
  let ingested: Awaited<ReturnType<typeof ingest>>;
  try {
    ingested = await ingest(body, {
      maxBytes: deps.maxModelBytes,
      inspectOnnx: format.runtime === 'onnx',
      consume: (stream) => deps.store.put(row.objectKey, stream, { contentType: 'application/octet-stream' }),
      ...(deps.tempDir ? { tempRoot: deps.tempDir } : {}),
    });
  } catch (err) {
    await discardVersion(deps, row);
    if (err instanceof ModelTooLargeError) throw tooLarge(deps.maxModelBytes);
    throw err;
  }
  const signature = await rejectUnusable(deps, row, ingested);
  const ready = await finishVersion(deps, actor, row, ingested, signature);
  return presentVersion(ready, await aliasNamesOf(deps.db, ready.id));
}
