import type { Readable } from 'node:stream';
import { and, desc, eq, gt, inArray, lt, lte, or, type SQL } from 'drizzle-orm';
import type { Actor, Principal } from '../../auth/principal.js';
import { batchJobs, type FilePurpose, files } from '../../db/schema.js';
import { AppError, conflict, notFound } from '../../errors.js';
import { recordAudit } from '../audit/record.js';
import { ingest, ModelTooLargeError } from '../models/ingest.js';
import { idCursor, splitPage } from '../pagination.js';
import { jobsVisibleTo, requireBatchAccess } from './access.js';
import type { FileDeps } from './deps.js';
import { fileObjectKey, newFileId } from './ids.js';

type FileRow = typeof files.$inferSelect;

export const fileTooLarge = (maxBytes: number) =>
  new AppError('payload_too_large', `A file may be at most ${maxBytes} bytes`);

/** A file as the API shows it. */
export function presentFile(row: FileRow) {
  return {
    id: row.id,
    object: 'file' as const,
    purpose: row.purpose,
    filename: row.fileName,
    bytes: row.sizeBytes ?? 0,
    sha256: row.sha256,
    createdAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt.toISOString(),
  };
}

const actorId = (actor: Actor) =>
  actor.principal.type === 'user' ? actor.principal.userId : actor.principal.keyId;

/**
 * Stores an uploaded file, streamed through a size counter into object storage: past `maxFileBytes` the
 * upload stops and leaves nothing behind (413), never holding more than a few chunks in memory. Its lines are
 * read when a job uses it, not here.
 */
export async function uploadFile(
  deps: FileDeps,
  actor: Actor,
  input: { fileName: string; purpose: FilePurpose },
  body: Readable,
  declaredBytes: number | undefined,
  now = new Date(),
) {
  requireBatchAccess(actor.principal);
  if (declaredBytes !== undefined && declaredBytes > deps.maxFileBytes) throw fileTooLarge(deps.maxFileBytes);
  const orgId = actor.principal.orgId;
  const id = newFileId();
  const objectKey = fileObjectKey(orgId, id);
  await deps.db.insert(files).values({
    id,
    orgId,
    purpose: input.purpose,
    fileName: input.fileName,
    objectKey,
    status: 'uploading',
    createdBy: actorId(actor),
    createdAt: now,
    expiresAt: new Date(now.getTime() + deps.retentionSeconds * 1000),
  });
  let stored: Awaited<ReturnType<typeof ingest>>;
  try {
    stored = await ingest(body, {
      maxBytes: deps.maxFileBytes,
      inspectOnnx: false,
      consume: (stream) => deps.store.put(objectKey, stream, { contentType: 'application/jsonl' }),
    });
  } catch (err) {
    await deps.db.delete(files).where(eq(files.id, id));
    await deps.store.delete(objectKey).catch(() => {});
    if (err instanceof ModelTooLargeError) throw fileTooLarge(deps.maxFileBytes);
    throw err;
  }
  const [row] = await deps.db
    .update(files)
    .set({ status: 'ready', sizeBytes: stored.sizeBytes, sha256: stored.sha256 })
    .where(eq(files.id, id))
    .returning();
  if (!row) throw notFound('File');
  await recordAudit(deps.db, actor, {
    orgId,
    action: 'file.upload',
    targetType: 'file',
    targetId: id,
    metadata: { name: row.fileName, bytes: stored.sizeBytes, purpose: input.purpose },
  });
  return presentFile(row);
}

/** Inputs, and the output and error files of the jobs the credential may see (a job writes them as their creator). */
function filesVisibleTo(db: FileDeps['db'], principal: Principal): SQL | undefined {
  const jobs = jobsVisibleTo(principal);
  if (!jobs) return undefined;
  const visible = db.select({ id: batchJobs.id }).from(batchJobs).where(jobs);
  return or(eq(files.purpose, 'batch'), inArray(files.createdBy, visible));
}

/** A ready, unexpired file of the org (and visible to `principal`, when given); anything else is 404. */
export async function findFile(
  db: FileDeps['db'],
  orgId: string,
  id: string,
  now = new Date(),
  principal?: Principal,
) {
  const [row] = await db
    .select()
    .from(files)
    .where(
      and(
        eq(files.id, id),
        eq(files.orgId, orgId),
        eq(files.status, 'ready'),
        gt(files.expiresAt, now),
        principal ? filesVisibleTo(db, principal) : undefined,
      ),
    );
  if (!row) throw notFound('File');
  return row;
}

export async function getFile(deps: FileDeps, actor: Actor, id: string) {
  requireBatchAccess(actor.principal);
  return presentFile(await findFile(deps.db, actor.principal.orgId, id, new Date(), actor.principal));
}

export async function listFiles(
  deps: FileDeps,
  actor: Actor,
  query: { limit: number; cursor?: string | undefined; purpose?: FilePurpose | undefined },
  now = new Date(),
) {
  requireBatchAccess(actor.principal);
  const after = idCursor(query.cursor, 'file');
  const rows = await deps.db
    .select()
    .from(files)
    .where(
      and(
        eq(files.orgId, actor.principal.orgId),
        filesVisibleTo(deps.db, actor.principal),
        eq(files.status, 'ready'),
        gt(files.expiresAt, now),
        query.purpose ? eq(files.purpose, query.purpose) : undefined,
        after ? lt(files.id, after) : undefined,
      ),
    )
    .orderBy(desc(files.id))
    .limit(query.limit + 1);
  const page = splitPage(rows, query.limit, (r) => r.id);
  return { items: page.items.map(presentFile), nextCursor: page.nextCursor };
}

/** The file's bytes, streamed from storage. */
export async function readFileContent(deps: FileDeps, actor: Actor, id: string) {
  requireBatchAccess(actor.principal);
  const row = await findFile(deps.db, actor.principal.orgId, id, new Date(), actor.principal);
  const object = await deps.store.get(row.objectKey);
  if (!object) throw notFound('File');
  return { body: object.body, sizeBytes: object.sizeBytes, fileName: row.fileName };
}

/** An expiring URL that downloads the file with no other credential (S3 presigned, or the local store's). */
export async function createFileDownloadUrl(deps: FileDeps, actor: Actor, id: string, expiresIn: number) {
  requireBatchAccess(actor.principal);
  const row = await findFile(deps.db, actor.principal.orgId, id, new Date(), actor.principal);
  const url = await deps.store.presignGet(row.objectKey, expiresIn);
  return { url, expiresAt: new Date(Date.now() + expiresIn * 1000).toISOString() };
}

/** Deletes a file; one a job is still reading is refused (409). */
export async function deleteFile(
  deps: FileDeps,
  actor: Actor,
  id: string,
  inUse: (fileId: string) => Promise<boolean>,
) {
  requireBatchAccess(actor.principal);
  const row = await findFile(deps.db, actor.principal.orgId, id, new Date(), actor.principal);
  if (await inUse(row.id)) throw conflict('A batch job that has not ended is reading this file');
  await deps.db.delete(files).where(eq(files.id, row.id));
  await deps.store.delete(row.objectKey);
  await recordAudit(deps.db, actor, {
    orgId: row.orgId,
    action: 'file.delete',
    targetType: 'file',
    targetId: row.id,
    metadata: { name: row.fileName },
  });
}

/**
 * Deletes files past their retention, and uploads that never finished (a process that died mid-stream) once
 * they are a day old. Returns how many went.
 */
export async function sweepExpiredFiles(deps: Pick<FileDeps, 'db' | 'store' | 'logger'>, now = new Date()) {
  const stale = new Date(now.getTime() - 24 * 3600 * 1000);
  const expired = await deps.db
    .select({ id: files.id, objectKey: files.objectKey })
    .from(files)
    .where(lte(files.expiresAt, now))
    .limit(500);
  const abandoned = await deps.db
    .select({ id: files.id, objectKey: files.objectKey })
    .from(files)
    .where(and(eq(files.status, 'uploading'), lt(files.createdAt, stale)))
    .limit(500);
  for (const row of [...expired, ...abandoned]) {
    try {
      await deps.store.delete(row.objectKey);
      await deps.db.delete(files).where(eq(files.id, row.id));
    } catch (error) {
      deps.logger.warn('expired file not deleted yet', { fileId: row.id, error });
    }
  }
  return expired.length + abandoned.length;
}

/** Creates a file row for an object a job wrote (output or error file). */
export async function registerJobFile(
  deps: Pick<FileDeps, 'db' | 'retentionSeconds'>,
  file: {
    id: string;
    orgId: string;
    purpose: FilePurpose;
    fileName: string;
    objectKey: string;
    sizeBytes: number;
    createdBy: string;
  },
  now = new Date(),
) {
  await deps.db
    .insert(files)
    .values({
      ...file,
      status: 'ready',
      createdAt: now,
      expiresAt: new Date(now.getTime() + deps.retentionSeconds * 1000),
    })
    .onConflictDoNothing();
}
