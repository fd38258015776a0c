import { asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from '../../../testing/test-app.js';
import { ledgerEntries, orgStorage } from '../../db/schema.js';
import { createLogger } from '../../lib/logger.js';
import { BillingJobs } from './jobs.js';
import { MAX_STORAGE_HOURS_BACK, sampleStorage } from './storage-sampler.js';
import { usageByWindow } from './windows.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

const HOUR = 3_600_000;
const GB = 1e9;
const T0 = Date.UTC(2026, 2, 10, 12);

describe('storage sampling', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.cleanup());

  /** An org holding `modelBytes` + `artifactBytes` since `since`, as storage accounting leaves it. */
  const orgHolding = async (modelBytes: number, artifactBytes: number, since: number) => {
    const { orgId } = await t.client.register('storer');
    await t.db.insert(orgStorage).values({ orgId, modelBytes, artifactBytes, updatedAt: new Date(since) });
    return orgId;
  };
  const samples = (orgId: string) =>
    t.db
      .select()
      .from(ledgerEntries)
      .where(eq(ledgerEntries.orgId, orgId))
      .orderBy(asc(ledgerEntries.windowStart));

  it('bills known bytes for known hours as exact byte-hours, and a rerun adds nothing', async () => {
    // 3 GB of models and 2 GB of artifacts since 09:00; sampled at 12:10, so 09, 10 and 11 have ended.
    const orgId = await orgHolding(3 * GB, 2 * GB, T0 - 3 * HOUR);
    await sampleStorage(t.db, T0 + 10 * 60_000);
    await sampleStorage(t.db, T0 + 20 * 60_000);
    const rows = await samples(orgId);
    expect(rows.map((e) => [e.id, e.meter, e.quantity, e.windowStart.getTime()])).toEqual(
      [3, 2, 1].map((h) => [`storage:${orgId}:${T0 - h * HOUR}`, 'storage_mb_hours', 5 * GB, T0 - h * HOUR]),
    );
    const windows = await usageByWindow(t.db, { orgId, from: T0 - 24 * HOUR, to: T0 + 24 * HOUR });
    // 5 GB for an hour = 5,000 MB-hours per window.
    expect(windows.map((w) => w.billableQuantity)).toEqual([5000, 5000, 5000]);
  });

  it('resumes after the last sampled hour, at the bytes held when sampling', async () => {
    const orgId = await orgHolding(GB, 0, T0 - HOUR);
    await sampleStorage(t.db, T0 + 60_000);
    await t.db
      .update(orgStorage)
      .set({ modelBytes: 4 * GB })
      .where(eq(orgStorage.orgId, orgId));
    await sampleStorage(t.db, T0 + 2 * HOUR + 60_000);
    expect((await samples(orgId)).map((e) => [e.windowStart.getTime(), e.quantity])).toEqual([
      [T0 - HOUR, GB],
      [T0, 4 * GB],
      [T0 + HOUR, 4 * GB],
    ]);
  });

  it('reaches back at most a month of hours', async () => {
    const orgId = await orgHolding(GB, 0, T0 - 90 * 24 * HOUR);
    await sampleStorage(t.db, T0);
    const rows = await samples(orgId);
    expect(rows).toHaveLength(MAX_STORAGE_HOURS_BACK);
    expect(rows[0]?.windowStart.getTime()).toBe(T0 - MAX_STORAGE_HOURS_BACK * HOUR);
  });

  it('marks empty hours as sampled but bills nothing for them', async () => {
    const orgId = await orgHolding(0, 0, T0 - 2 * HOUR);
    await sampleStorage(t.db, T0);
    expect(await samples(orgId)).toHaveLength(2);
    expect(await usageByWindow(t.db, { orgId, from: 0, to: T0 + HOUR })).toEqual([]);
  });

  it('runs as a billing job, and one failing job does not stop the others', async () => {
    const orgId = await orgHolding(GB, 0, T0 - HOUR);
    const lines: string[] = [];
    const jobs = new BillingJobs({ logger: createLogger('debug', (l) => lines.push(l)), now: () => T0 })
      .add('broken', () => Promise.reject(new Error('boom')))
      .add('storage-sample', (now) => sampleStorage(t.db, now));
    await jobs.runOnce();
    expect(await samples(orgId)).toHaveLength(1);
    expect(lines.some((l) => l.includes('billing job failed') && l.includes('broken'))).toBe(true);
    expect(() => jobs.add('broken', async () => {})).toThrow(/twice/);
  });
});
