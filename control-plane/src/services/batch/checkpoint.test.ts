import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from '../../../testing/test-app.js';
import { batchJobs, batchResults, batchShards, ledgerEntries } from '../../db/schema.js';
import { commitShard } from './checkpoint.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

describe('commitShard', () => {
  let t: TestApp;
  const job = {
    id: 'batch_01hx00000000000000000000aa',
    orgId: 'org_01hx00000000000000000000aa',
    deploymentId: 'dep_01hx00000000000000000000aa',
    keyId: null,
    userId: 'usr_01hx00000000000000000000aa',
  };
  const results = [
    { line: 1, ok: true, text: '{"custom_id":"a"}', bytesIn: 10, bytesOut: 20 },
    { line: 2, ok: false, text: '{"custom_id":"b"}', bytesIn: 0, bytesOut: 0 },
    { line: 3, ok: true, text: '{"custom_id":"c"}', bytesIn: 10, bytesOut: 20 },
  ];
  const billed = async () =>
    Number(
      (
        await t.db
          .select({ n: sql<number>`coalesce(sum(${ledgerEntries.quantity}), 0)` })
          .from(ledgerEntries)
          .where(eq(ledgerEntries.orgId, job.orgId))
      )[0]?.n,
    );

  beforeAll(async () => {
    t = await createTestApp();
    await t.db.insert(batchJobs).values({
      ...job,
      deploymentName: 'ocr',
      inputFileId: 'file_01hx00000000000000000000aa',
      status: 'running',
      completionWindowSeconds: 3600,
      maxConcurrency: 4,
      expiresAt: new Date(Date.now() + 3_600_000),
    });
    await t.db
      .insert(batchShards)
      .values({ jobId: job.id, shard: 0, firstLine: 1, startByte: 0, endByte: 10 });
  });
  afterAll(() => t.cleanup());

  it('stores results, counts and bills a shard once, however often it is committed', async () => {
    expect(await commitShard(t, job, 0, results, false)).toBe(true);
    expect(await commitShard(t, job, 0, results, false)).toBe(false);
    const [row] = await t.db.select().from(batchJobs).where(eq(batchJobs.id, job.id));
    expect(row).toMatchObject({ completed: 2, failed: 1 });
    expect(await t.db.select().from(batchResults).where(eq(batchResults.jobId, job.id))).toHaveLength(3);
    expect(await billed()).toBe(2);
  });
});
