import { eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deployedModel, fakeAgent, testScheduler } from '../../../testing/scheduler.js';
import { createTestApp } from '../../../testing/test-app.js';
import { deployments, ledgerEntries, workloads } from '../../db/schema.js';

// Replica time is billed from the agents' usage reports: seconds per workload while it serves. A deployment at
// zero has no workload, so nothing can accrue for it; this follows one through up, zero and up again.

let t: Awaited<ReturnType<typeof createTestApp>>;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(() => t.cleanup());

const iso = (ms: number) => new Date(ms).toISOString();

describe('billing of a deployment that scales to zero', () => {
  it('bills the replica seconds before and after, and nothing for the time at zero', async () => {
    const owner = await t.client.register('owner');
    const agent = await fakeAgent(t);
    const dep = await deployedModel(t, owner, {
      replicas: 1,
      gpuType: 'cpu',
      scaling: { minReplicas: 0, scaleToZeroAfterSeconds: 60 },
    });
    const scheduler = testScheduler(t, { heartbeatTimeoutMs: 3_600_000, retireAfterMs: 0 });
    const start = Date.now() - 3_600_000;
    let seq = 0;
    // What the agent's usage meter sends: the span each workload served, once it stops (or so far).
    const report = async (entries: { workloadId: string; from: number; to: number }[]) => {
      const body = {
        seq: ++seq,
        entries: entries.map((e) => ({
          workloadId: e.workloadId,
          gpuType: 'cpu' as const,
          seconds: (e.to - e.from) / 1000,
          from: iso(e.from),
          to: iso(e.to),
        })),
      };
      const res = await t.client.call('POST', '/agent/v1/usage', { token: agent.credential, body });
      expect(res.status, res.text).toBe(200);
    };

    await scheduler.tick(start);
    const first = (await agent.report('ready')).workloads[0]?.workloadId ?? '';
    await scheduler.tick(start + 1_000);
    await scheduler.tick(start + 61_000);
    await scheduler.tick(start + 62_000);
    expect((await t.db.select().from(deployments).where(eq(deployments.id, dep.id)))[0]?.status).toBe('idle');
    expect((await agent.desired()).workloads).toHaveLength(0);
    await report([{ workloadId: first, from: start + 1_000, to: start + 62_000 }]);

    // Twenty minutes at zero: the agent runs nothing for it and its reports carry nothing for it.
    await report([]);
    await t.client.call('POST', `/internal/v1/deployments/${dep.id}/wake`, {
      token: t.edgeServiceToken,
      body: { held: 1 },
    });
    const woken = start + 20 * 60_000;
    await scheduler.tick(woken);
    const second = (await agent.report('ready')).workloads[0]?.workloadId ?? '';
    expect(second).not.toBe(first);
    await report([{ workloadId: second, from: woken + 500, to: woken + 30_500 }]);

    const billed = await t.db.select().from(ledgerEntries).where(eq(ledgerEntries.deploymentId, dep.id));
    expect(billed.reduce((sum, e) => sum + e.quantity, 0)).toBe(61 + 30);
    const duringZero = billed.filter(
      (e) => e.occurredAt.getTime() >= start + 62_000 && e.occurredAt.getTime() < woken,
    );
    expect(duringZero).toEqual([]);
    expect(await t.db.select().from(workloads).where(eq(workloads.deploymentId, dep.id))).toHaveLength(1);
  });
});
