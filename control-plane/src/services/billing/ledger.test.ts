import { newId, type UsageEntry, type UsageRecord } from '@meridian/protocol';
import { asc, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerTestAgent } from '../../../testing/agents.js';
import { testScheduler } from '../../../testing/scheduler.js';
import { createTestApp } from '../../../testing/test-app.js';
import { ledgerEntries, notebooks, workloadOwners, workloads } from '../../db/schema.js';
import { usageByWindow } from './windows.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

const HOUR = 3_600_000;
/** A fixed hour long past, so every window below is a known one. */
const T0 = Date.UTC(2026, 0, 5, 10);
const iso = (ms: number) => new Date(ms).toISOString();

describe('the usage ledger', () => {
  let t: TestApp;
  let agent: { agentId: string; credential: string };
  let seq = 0;
  let batches = 0;

  beforeAll(async () => {
    t = await createTestApp();
    agent = await registerTestAgent(t);
  });
  afterAll(() => t.cleanup());

  const entriesOf = (orgId: string) =>
    t.db.select().from(ledgerEntries).where(eq(ledgerEntries.orgId, orgId)).orderBy(asc(ledgerEntries.id));
  const totalOf = async (orgId: string) =>
    (
      await t.db
        .select({ n: sql<number>`coalesce(sum(${ledgerEntries.quantity}), 0)` })
        .from(ledgerEntries)
        .where(eq(ledgerEntries.orgId, orgId))
    )[0]?.n;

  const sendBatch = async (batchId: string, records: UsageRecord[]) => {
    const res = await t.client.call('POST', '/internal/v1/usage', {
      token: t.edgeServiceToken,
      body: { batchId, records },
    });
    expect(res.status, res.text).toBe(200);
    return res.json;
  };
  const record = (orgId: string, minute: number, calls: number): UsageRecord => ({
    orgId,
    keyId: 'key_01jcx0000000000000000000ab',
    userId: null,
    deploymentId: 'dep_01jcx0000000000000000000ab',
    minute: iso(minute),
    calls,
    bytesIn: 10,
    bytesOut: 20,
  });
  const report = async (entries: UsageEntry[], at = ++seq) => {
    const res = await t.client.call('POST', '/agent/v1/usage', {
      token: agent.credential,
      body: { seq: at, entries },
    });
    expect(res.status, res.text).toBe(200);
    return res.json;
  };
  const used = (workloadId: string, from: number, seconds: number, span = seconds): UsageEntry => ({
    workloadId,
    gpuType: 't4',
    seconds,
    from: iso(from),
    to: iso(from + span * 1000),
  });
  /** An org of its own with a workload owned as apply-plan records it. */
  const orgWithWorkload = async () => {
    const org = await t.client.register('tenant');
    const workloadId = newId('workload');
    await t.db.insert(workloadOwners).values({
      workloadId,
      orgId: org.orgId,
      kind: 'model',
      deploymentId: 'dep_01jcx0000000000000000000cd',
      notebookId: null,
      gpuType: 't4',
    });
    return { orgId: org.orgId, workloadId };
  };

  it('bills an edge batch once, however often it is sent', async () => {
    const org = await t.client.register('caller');
    batches += 1;
    const batchId = `edge-ams:${batches}`;
    const records = [record(org.orgId, T0 + 5 * 60_000, 12), record(org.orgId, T0 + HOUR + 60_000, 30)];
    expect(await sendBatch(batchId, records)).toEqual({ batchId, accepted: true });
    const first = await entriesOf(org.orgId);
    expect(await sendBatch(batchId, records)).toEqual({ batchId, accepted: false });
    expect(await entriesOf(org.orgId)).toEqual(first);
    expect(first.map((e) => [e.id, e.meter, e.quantity, e.windowStart.getTime(), e.deploymentId])).toEqual([
      [`edge:${batchId}:0`, 'inference_calls', 12, T0, 'dep_01jcx0000000000000000000ab'],
      [`edge:${batchId}:1`, 'inference_calls', 30, T0 + HOUR, 'dep_01jcx0000000000000000000ab'],
    ]);
    expect(first[1]?.occurredAt.getTime()).toBe(T0 + HOUR + 60_000);
  });

  it('bills an agent report once: the same report sent again adds nothing', async () => {
    const { orgId, workloadId } = await orgWithWorkload();
    const entries = [
      used(workloadId, T0, 40),
      { ...used(workloadId, T0 + 60_000, 20), gpuType: 'cpu' as const },
    ];
    const at = ++seq;
    expect(await report(entries, at)).toMatchObject({ accepted: true });
    expect(await totalOf(orgId)).toBe(60);
    expect(await report(entries, at)).toMatchObject({ accepted: false });
    expect(await totalOf(orgId)).toBe(60);
    const rows = await entriesOf(orgId);
    expect(rows.map((e) => [e.id, e.meter, e.quantity, e.deploymentId])).toEqual([
      [`agent:${agent.agentId}:${at}:0`, 'gpu_t4_minutes', 40, 'dep_01jcx0000000000000000000cd'],
      [`agent:${agent.agentId}:${at}:1`, 'cpu_minutes', 20, 'dep_01jcx0000000000000000000cd'],
    ]);
  });

  it('bills late usage in the hour it was spent, not the hour it arrived', async () => {
    const { orgId, workloadId } = await orgWithWorkload();
    // Spent three hours before T0, reported now.
    await report([used(workloadId, T0 - 3 * HOUR + 600_000, 30)]);
    const [entry] = await entriesOf(orgId);
    expect(entry?.windowStart.getTime()).toBe(T0 - 3 * HOUR);
    expect(entry?.recordedAt.getTime()).toBeGreaterThan(T0);
  });

  it('splits time that spans two hours between them, in proportion, adding up to what was reported', async () => {
    const { orgId, workloadId } = await orgWithWorkload();
    // 10:59:00 to 11:02:00: one minute in the 10:00 hour, two in the 11:00 hour.
    const at = ++seq;
    await report([used(workloadId, T0 + HOUR - 60_000, 180)], at);
    const rows = await entriesOf(orgId);
    expect(rows.map((e) => [e.id, e.windowStart.getTime(), e.quantity])).toEqual([
      [`agent:${agent.agentId}:${at}:0:0`, T0, 60],
      [`agent:${agent.agentId}:${at}:0:1`, T0 + HOUR, 120],
    ]);
  });

  it('bills usage of a removed workload to the org and notebook it ran for', async () => {
    const nbOwner = await t.client.register('notebook-owner');
    const notebookId = newId('notebook');
    await t.db.insert(notebooks).values({
      id: notebookId,
      orgId: nbOwner.orgId,
      ownerId: nbOwner.userId,
      name: 'gpu-notebook',
      gpuType: 't4',
      gpuCount: 1,
      image: 'quay.io/jupyter/base-notebook',
      idleTimeoutSeconds: 3600,
      desired: 'running',
      token: 't'.repeat(32),
      updatedAt: new Date(),
    });
    const scheduler = testScheduler(t, { heartbeatTimeoutMs: 3_600_000 });
    const start = Date.now();
    await scheduler.tick(start);
    // Placed on the suite's agent, the one host with a T4.
    const [placed] = await t.db.select().from(workloads).where(eq(workloads.notebookId, notebookId));
    const workloadId = placed?.id ?? '';
    expect(placed?.agentId).toBe(agent.agentId);

    await t.db.update(notebooks).set({ desired: 'stopped' }).where(eq(notebooks.id, notebookId));
    await scheduler.tick(start + 1_000);
    expect(await t.db.select().from(workloads).where(eq(workloads.id, workloadId))).toEqual([]);

    // The agent's last report arrives after the workload is gone.
    // Thirty seconds well inside one hour (T0), whatever the clock says now: no split across windows.
    await report([used(workloadId, T0, 30)]);
    const [entry] = await entriesOf(nbOwner.orgId);
    expect(entry).toMatchObject({ meter: 'gpu_t4_minutes', quantity: 30, notebookId, deploymentId: null });
  });

  it('skips and logs usage of a workload nobody owns, billing the rest of the report', async () => {
    const { orgId, workloadId } = await orgWithWorkload();
    await report([used('wl-unknown-1', T0, 50), used(workloadId, T0, 10)]);
    expect(await totalOf(orgId)).toBe(10);
    const rows = await t.db.select().from(ledgerEntries).where(eq(ledgerEntries.quantity, 50));
    expect(rows).toEqual([]);
    const warning = t.logLines.find((line) => line.includes('usage of workloads without an owner'));
    expect(warning).toContain('wl-unknown-1');
  });

  describe('rounding per (org, meter, hour)', () => {
    const billed = async (spans: [number, number][]) => {
      const { orgId, workloadId } = await orgWithWorkload();
      await report(spans.map(([from, seconds]) => used(workloadId, from, seconds)));
      const windows = await usageByWindow(t.db, { orgId, from: T0 - HOUR, to: T0 + 3 * HOUR });
      return windows.map((w) => [w.windowStart, w.billableQuantity]);
    };

    it('bills 61 s in one hour as 2 minutes', async () => {
      expect(await billed([[T0, 61]])).toEqual([[T0, 2]]);
    });

    it('bills 30 s + 30 s in one hour as 1 minute', async () => {
      expect(
        await billed([
          [T0, 30],
          [T0 + 600_000, 30],
        ]),
      ).toEqual([[T0, 1]]);
    });

    it('bills 30 s in each of two hours as 2 minutes', async () => {
      expect(
        await billed([
          [T0, 30],
          [T0 + HOUR, 30],
        ]),
      ).toEqual([
        [T0, 1],
        [T0 + HOUR, 1],
      ]);
    });
  });
});
