import { and, eq, sql } from 'drizzle-orm';
import { batchJobs, batchResults, batchShards, edgeUsage, edgeUsageBatches } from '../../db/schema.js';
import { appendEdgeEntries } from '../billing/ledger.js';
import type { BatchDeps } from './deps.js';

export type LineResult = { line: number; ok: boolean; text: string; bytesIn: number; bytesOut: number };

type JobRef = Pick<typeof batchJobs.$inferSelect, 'id' | 'orgId' | 'deploymentId' | 'keyId' | 'userId'>;

const ROWS = 50;

/** The ledger batch a shard's answered lines are billed under: one per shard, so a replay adds nothing. */
export const shardBatchId = (jobId: string, shard: number, partial: boolean) =>
  `batch:${jobId}:${shard}${partial ? ':partial' : ''}`;

/**
 * Commits a shard's results in one transaction: the result rows, the shard marked done, the job's counts, and
 * the answered lines billed (usage rows and ledger entries, as an agent's report of the same calls would be,
 * under the job's creator). Before the commit nothing of the shard counts, so a crash re-runs it whole; after
 * it, never again: each custom_id is in the output once and each answered line billed once. `partial` commits
 * what a job that is stopping (cancel, expiry, quota) answered of a shard it will not finish.
 */
export async function commitShard(
  deps: Pick<BatchDeps, 'db'>,
  job: JobRef,
  shard: number,
  results: readonly LineResult[],
  partial: boolean,
  now = new Date(),
): Promise<boolean> {
  const answered = results.filter((r) => r.ok);
  return deps.db.transaction(async (tx) => {
    if (!partial) {
      const marked = await tx
        .update(batchShards)
        .set({ done: true })
        .where(and(eq(batchShards.jobId, job.id), eq(batchShards.shard, shard), eq(batchShards.done, false)))
        .returning({ shard: batchShards.shard });
      if (marked.length === 0) return false;
    }
    for (let i = 0; i < results.length; i += ROWS) {
      const rows = results
        .slice(i, i + ROWS)
        .map((r) => ({ jobId: job.id, line: r.line, ok: r.ok, text: r.text }));
      await tx.insert(batchResults).values(rows).onConflictDoNothing();
    }
    await tx
      .update(batchJobs)
      .set({
        completed: sql`${batchJobs.completed} + ${answered.length}`,
        failed: sql`${batchJobs.failed} + ${results.length - answered.length}`,
      })
      .where(eq(batchJobs.id, job.id));
    if (answered.length === 0) return true;
    const batchId = shardBatchId(job.id, shard, partial);
    const inserted = await tx
      .insert(edgeUsageBatches)
      .values({ batchId, receivedAt: now, recordCount: 1 })
      .onConflictDoNothing();
    if (inserted.rowsAffected === 0) return true;
    await tx.insert(edgeUsage).values({
      batchId,
      idx: 0,
      orgId: job.orgId,
      keyId: job.keyId,
      userId: job.userId,
      deploymentId: job.deploymentId,
      minute: new Date(Math.floor(now.getTime() / 60_000) * 60_000),
      calls: answered.length,
      bytesIn: answered.reduce((n, r) => n + r.bytesIn, 0),
      bytesOut: answered.reduce((n, r) => n + r.bytesOut, 0),
    });
    await appendEdgeEntries(tx, batchId);
    return true;
  });
}
