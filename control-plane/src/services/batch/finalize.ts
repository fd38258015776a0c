import { Readable } from 'node:stream';
import { and, asc, eq, gt } from 'drizzle-orm';
import { type BatchStatus, batchJobs, batchResults, batchShards } from '../../db/schema.js';
import { registerJobFile } from '../files/files.js';
import { fileObjectKey } from '../files/ids.js';
import type { BatchDeps } from './deps.js';

type JobRow = typeof batchJobs.$inferSelect;
const PAGE = 500;

/** The result rows of one kind, in line order, as JSONL: paged from the database, never all in memory. */
function resultStream(deps: Pick<BatchDeps, 'db'>, jobId: string, ok: boolean): Readable {
  async function* lines() {
    let after = 0;
    for (;;) {
      const page = await deps.db
        .select({ line: batchResults.line, text: batchResults.text })
        .from(batchResults)
        .where(and(eq(batchResults.jobId, jobId), eq(batchResults.ok, ok), gt(batchResults.line, after)))
        .orderBy(asc(batchResults.line))
        .limit(PAGE);
      if (page.length === 0) return;
      yield Buffer.from(`${page.map((r) => r.text).join('\n')}\n`);
      after = page.at(-1)?.line ?? after;
    }
  }
  return Readable.from(lines());
}

/**
 * Writes the output and error files (one line per answered or refused input, in input order) under the ids the
 * job reserved, registers them, ends the job in `outcome`, and drops the result rows. Each step can run again
 * after a crash: the objects are overwritten, the file rows inserted once, and the status moves last.
 */
export async function finalizeJob(
  deps: BatchDeps,
  job: JobRow,
  outcome: BatchStatus,
  now = () => new Date(),
) {
  await deps.db
    .update(batchJobs)
    .set({ status: 'finalizing', outcome, finalizingAt: job.finalizingAt ?? now() })
    .where(eq(batchJobs.id, job.id));
  const files: Partial<Record<'outputFileId' | 'errorFileId', string>> = {};
  for (const [field, ok, purpose, name] of [
    ['outputFileId', true, 'batch_output', 'output'],
    ['errorFileId', false, 'batch_error', 'errors'],
  ] as const) {
    const fileId = job[field];
    if (!fileId) continue;
    const objectKey = fileObjectKey(job.orgId, fileId);
    const stored = await deps.store.put(objectKey, resultStream(deps, job.id, ok), {
      contentType: 'application/jsonl',
    });
    await registerJobFile(deps.files, {
      id: fileId,
      orgId: job.orgId,
      purpose,
      fileName: `${job.id}-${name}.jsonl`,
      objectKey,
      sizeBytes: stored.sizeBytes,
      createdBy: job.id,
    });
    files[field] = fileId;
  }
  await deps.db
    .update(batchJobs)
    .set({ status: outcome, outcome: null, endedAt: now() })
    .where(eq(batchJobs.id, job.id));
  await deps.db.delete(batchResults).where(eq(batchResults.jobId, job.id));
  await deps.db.delete(batchShards).where(eq(batchShards.jobId, job.id));
  return files;
}
