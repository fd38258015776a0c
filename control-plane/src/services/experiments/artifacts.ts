import { createHash } from 'node:crypto';
import { pipeline, type Readable, Transform } from 'node:stream';
import { newId } from '@meridian/protocol';
import { and, asc, eq, gt, sql } from 'drizzle-orm';
import { requirePermission } from '../../auth/permissions.js';
import type { Actor } from '../../auth/principal.js';
import type { Database } from '../../db/client.js';
import { runArtifacts } from '../../db/schema.js';
import { AppError, notFound } from '../../errors.js';
import { objectKeys } from '../../storage/object-store.js';
import { recordAudit } from '../audit/record.js';
import { cursorKey, splitPage } from '../pagination.js';
import { addStoredBytes } from '../storage-accounting.js';
import { type ArtifactStoreDeps, deleteArtifactObjects } from './artifact-cleanup.js';
import { findRun } from './runs.js';
import type { Reader } from './types.js';

type ArtifactRow = typeof runArtifacts.$inferSelect;

export interface ArtifactUploadDeps extends ArtifactStoreDeps {
  maxArtifactBytes: number;
}

export function presentArtifact(row: ArtifactRow) {
  return {
    id: row.id,
    runId: row.runId,
    path: row.path,
    sizeBytes: row.sizeBytes,
    sha256: row.sha256,
    contentType: row.contentType,
    createdAt: row.createdAt.toISOString(),
  };
}

class ArtifactTooLargeError extends Error {}
const tooLarge = (max: number) =>
  new AppError('payload_too_large', `An artifact may be at most ${max} bytes`);

/** Counts and hashes bytes as they stream past, failing the stream once it passes `maxBytes`. */
function meter(maxBytes: number) {
  const hash = createHash('sha256');
  const state = { sizeBytes: 0, sha256: () => hash.digest('hex') };
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      state.sizeBytes += chunk.length;
      if (state.sizeBytes > maxBytes) return callback(new ArtifactTooLargeError());
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  return { stream, state };
}

/** An artifact as the audit log names it: its run, then its path (`baseline-3 › model.onnx`). */
function artifactName(runName: string, path: string): string {
  return `${runName} › ${path}`;
}

async function findArtifact(db: Reader, runId: string, path: string): Promise<ArtifactRow | undefined> {
  const [row] = await db
    .select()
    .from(runArtifacts)
    .where(and(eq(runArtifacts.runId, runId), eq(runArtifacts.path, path)));
  return row;
}

export interface UploadInput {
  path: string;
  body: Readable;
  contentType: string;
  /** The Content-Length the client declared, to refuse an oversize upload before reading it. */
  declaredBytes?: number;
}

/**
 * Streams an artifact into a fresh object keyed by ids (the path is only a label), then records it; an
 * artifact already at `path` is replaced and its object deleted once the new row has committed.
 */
export async function uploadArtifact(
  deps: ArtifactUploadDeps,
  actor: Actor,
  runId: string,
  input: UploadInput,
) {
  requirePermission(actor.principal, 'experiments:write');
  const orgId = actor.principal.orgId;
  await findRun(deps.db, orgId, runId);
  if (input.declaredBytes !== undefined && input.declaredBytes > deps.maxArtifactBytes) {
    throw tooLarge(deps.maxArtifactBytes);
  }
  const id = newId('artifact');
  const objectKey = objectKeys.runArtifact(orgId, runId, id);
  const { stream, state } = meter(deps.maxArtifactBytes);
  try {
    await deps.store.put(
      objectKey,
      pipeline(input.body, stream, () => {}),
      { contentType: input.contentType },
    );
  } catch (err) {
    await deleteArtifactObjects(deps, [objectKey]);
    // An adapter may wrap the stream's error, so the byte count decides too.
    if (err instanceof ArtifactTooLargeError || state.sizeBytes > deps.maxArtifactBytes)
      throw tooLarge(deps.maxArtifactBytes);
    throw err;
  }
  const row = {
    id,
    orgId,
    runId,
    path: input.path,
    objectKey,
    sizeBytes: state.sizeBytes,
    sha256: state.sha256(),
    contentType: input.contentType,
  };
  const replaced = await deps.db
    .transaction(async (tx) => {
      const run = await findRun(tx, orgId, runId);
      const previous = await findArtifact(tx, runId, input.path);
      if (previous) await tx.delete(runArtifacts).where(eq(runArtifacts.id, previous.id));
      await tx.insert(runArtifacts).values(row);
      await addStoredBytes(tx, orgId, 'artifact', row.sizeBytes - (previous?.sizeBytes ?? 0));
      await recordAudit(tx, actor, {
        orgId,
        action: 'artifact.upload',
        targetType: 'artifact',
        targetId: id,
        metadata: {
          name: artifactName(run.name, row.path),
          runId,
          path: row.path,
          sizeBytes: row.sizeBytes,
          replaced: previous?.id ?? null,
        },
      });
      return previous;
    })
    .catch(async (err: unknown) => {
      await deleteArtifactObjects(deps, [objectKey]);
      throw err;
    });
  if (replaced) await deleteArtifactObjects(deps, [replaced.objectKey]);
  const stored = await findArtifact(deps.db, runId, input.path);
  if (!stored) throw notFound('Artifact');
  return presentArtifact(stored);
}

/** A cursor of the artifact list is the last path served: `/`-separated segments of [A-Za-z0-9._-]. */
const ARTIFACT_PATH_CURSOR = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

export async function listArtifacts(
  db: Database,
  actor: Actor,
  runId: string,
  page: { limit: number; cursor?: string; prefix?: string },
) {
  requirePermission(actor.principal, 'experiments:read');
  await findRun(db, actor.principal.orgId, runId);
  const { prefix } = page;
  const cursor = cursorKey(page.cursor, ARTIFACT_PATH_CURSOR);
  const rows = await db
    .select()
    .from(runArtifacts)
    .where(
      and(
        eq(runArtifacts.runId, runId),
        prefix ? sql`substr(${runArtifacts.path}, 1, ${prefix.length}) = ${prefix}` : undefined,
        cursor ? gt(runArtifacts.path, cursor) : undefined,
      ),
    )
    .orderBy(asc(runArtifacts.path))
    .limit(page.limit + 1);
  const { items, nextCursor } = splitPage(rows, page.limit, (r) => r.path);
  return { items: items.map(presentArtifact), nextCursor };
}

/** The artifact at `path` with a stream of its bytes. */
export async function readArtifact(deps: ArtifactStoreDeps, actor: Actor, runId: string, path: string) {
  requirePermission(actor.principal, 'experiments:read');
  await findRun(deps.db, actor.principal.orgId, runId);
  const row = await findArtifact(deps.db, runId, path);
  if (!row) throw notFound('Artifact');
  const object = await deps.store.get(row.objectKey);
  if (!object) throw notFound('Artifact');
  return { artifact: presentArtifact(row), body: object.body, sizeBytes: object.sizeBytes };
}

export async function deleteArtifact(deps: ArtifactStoreDeps, actor: Actor, runId: string, path: string) {
  requirePermission(actor.principal, 'experiments:write');
  const orgId = actor.principal.orgId;
  const row = await deps.db.transaction(async (tx) => {
    const run = await findRun(tx, orgId, runId);
    const found = await findArtifact(tx, runId, path);
    if (!found) throw notFound('Artifact');
    await tx.delete(runArtifacts).where(eq(runArtifacts.id, found.id));
    await addStoredBytes(tx, orgId, 'artifact', -found.sizeBytes);
    await recordAudit(tx, actor, {
      orgId,
      action: 'artifact.delete',
      targetType: 'artifact',
      targetId: found.id,
      metadata: { name: artifactName(run.name, path), runId, path, sizeBytes: found.sizeBytes },
    });
    return found;
  });
  await deleteArtifactObjects(deps, [row.objectKey]);
  return presentArtifact(row);
}
