import { and, eq, lt } from 'drizzle-orm';
import { modelVersions } from '../../db/schema.js';
import type { ModelDeps } from './deps.js';
import { removeObjects } from './objects.js';

/**
 * How long a version may stay `uploading` before it counts as abandoned: a week, as S3 lifecycle rules
 * commonly abort incomplete multipart uploads, so an interrupted push can still be resumed the next days.
 */
export const ABANDONED_UPLOAD_AGE_MS = 7 * 24 * 3600 * 1000;

/**
 * Forgets versions whose upload never finished (a multipart upload nobody completed, a process that died
 * mid-stream) once they are past ABANDONED_UPLOAD_AGE_MS: their rows, open multipart uploads and objects.
 * Without it their parts stay in storage for ever, counted against no one, and the version stays `uploading`
 * in every list. Returns how many went.
 */
export async function sweepAbandonedUploads(
  deps: Pick<ModelDeps, 'db' | 'store' | 'logger'>,
  now = new Date(),
): Promise<number> {
  const before = new Date(now.getTime() - ABANDONED_UPLOAD_AGE_MS);
  const stale = await deps.db
    .select()
    .from(modelVersions)
    .where(and(eq(modelVersions.status, 'uploading'), lt(modelVersions.createdAt, before)))
    .limit(500);
  let removed = 0;
  for (const row of stale) {
    // Still uploading at delete time: one completed meanwhile is kept.
    const [gone] = await deps.db
      .delete(modelVersions)
      .where(and(eq(modelVersions.id, row.id), eq(modelVersions.status, 'uploading')))
      .returning({ id: modelVersions.id });
    if (!gone) continue;
    await removeObjects(deps, [row]);
    removed += 1;
  }
  if (removed > 0) deps.logger.info('abandoned model uploads removed', { count: removed });
  return removed;
}
