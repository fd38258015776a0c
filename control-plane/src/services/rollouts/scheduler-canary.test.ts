import { emptyHistogram, observeLatency } from '@meridian/protocol';
import { and, eq, isNull } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sampleInventory } from '../../../testing/agents.js';
import { deployedModel, fakeAgent, testScheduler } from '../../../testing/scheduler.js';
import { createTestApp } from '../../../testing/test-app.js';
import { deploymentEvents, deploymentRollouts, deployments, workloads } from '../../db/schema.js';
import { recordEdgeMetrics } from '../monitoring/ingest-metrics.js';

// The scheduler's side of canaries over a real libSQL database: the API starts one, simulated agents report
// replicas ready, and the edge's counts arrive as real metric batches.

let t: Awaited<ReturnType<typeof createTestApp>>;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(() => t.cleanup());

let batches = 0;
/** What an edge isolate would send for `calls` calls of `versionId`, `errors` of them 5xx, each taking `ms`. */
async function edgeSaw(
  dep: { id: string; orgId: string },
  versionId: string,
  calls: number,
  errors: number,
  ms = 5,
) {
  const latency = emptyHistogram();
  for (let i = 0; i < calls; i++) observeLatency(latency, ms);
  const minute = `${new Date(Math.floor(Date.now() / 60_000) * 60_000).toISOString().slice(0, 16)}:00Z`;
  batches += 1;
  await recordEdgeMetrics(t.db, {
    batchId: `test:${batches}`,
    records: [
      {
        orgId: dep.orgId,
        deploymentId: dep.id,
        versionId,
        minute,
        requests: { '2xx': calls - errors, '5xx': errors },
        latency,
      },
    ],
  });
}

async function canaryOf(t2: typeof t, share: Record<string, unknown>) {
  const owner = await t2.client.register('owner');
  const agent = await fakeAgent(t2);
  const dep = await deployedModel(t2, owner, { replicas: 2, gpuType: 'cpu' });
  const scheduler = testScheduler(t2);
  await scheduler.tick();
  await agent.report('ready');
  await scheduler.tick();
  const res = await t2.client.call('PATCH', `/v1/deployments/${dep.id}`, {
    token: owner.accessToken,
    body: { version: 2, canary: share },
  });
  if (res.status !== 200) throw new Error(`PATCH: ${res.status} ${res.text}`);
  return { owner, agent, dep: { ...dep, orgId: owner.orgId }, scheduler };
}

const events = async (id: string) =>
  (await t.db.select().from(deploymentEvents).where(eq(deploymentEvents.deploymentId, id)))
    .filter((e) => e.type.startsWith('canary_'))
    .map((e) => `${e.type}: ${e.message}`);
const weights = async (scheduler: ReturnType<typeof testScheduler>, id: string) =>
  (await scheduler.routing.current()).deployments
    .find((d) => d.deploymentId === id)
    ?.versions.map((v) => [v.version, v.weight, v.replicas.length]);
const live = async (id: string, revision: number) =>
  t.db
    .select()
    .from(workloads)
    .where(and(eq(workloads.deploymentId, id), eq(workloads.revision, revision), isNull(workloads.retireAt)));

describe('scheduler: canary rollouts', () => {
  it('runs one canary replica beside the current ones and gives it its share of calls once it is ready', async () => {
    const { agent, dep, scheduler } = await canaryOf(t, { share: 0.1 });
    await scheduler.tick();
    expect(await live(dep.id, 2)).toHaveLength(1);
    expect(await live(dep.id, 1)).toHaveLength(2);
    // Until the canary serves, every call goes to the current revision.
    expect(await weights(scheduler, dep.id)).toEqual([[1, 100, 2]]);
    await agent.report('ready');
    await scheduler.tick();
    expect(await weights(scheduler, dep.id)).toEqual([
      [1, 90, 2],
      [2, 10, 1],
    ]);
    expect((await events(dep.id)).at(-1)).toMatch(
      /^canary_started: canary v2 \(revision 2\) takes 10% of calls/,
    );
  });

  it('rolls back on the first batch that shows the margin broken, with the figures, and retires the canary', async () => {
    const { agent, dep, scheduler } = await canaryOf(t, { share: 0.1, minCalls: 20, windowSeconds: 600 });
    await scheduler.tick();
    await agent.report('ready');
    await scheduler.tick();
    await edgeSaw(dep, dep.versions[0] as string, 45, 0);
    await edgeSaw(dep, dep.versions[1] as string, 5, 3);
    await scheduler.tick();
    expect((await events(dep.id)).at(-1)).toBe(
      'canary_rolled_back: canary v2 (revision 2) rolled back: 5xx 60% vs 0% over 5 calls (old revision: 45), margin 5%; every call goes to v1 (revision 1) again',
    );
    const [row] = await t.db
      .select()
      .from(deploymentRollouts)
      .where(eq(deploymentRollouts.deploymentId, dep.id));
    expect(row).toMatchObject({ state: 'rolled_back', figures: { canary: { calls: 5, errors: 3 } } });
    expect(await weights(scheduler, dep.id)).toEqual([[1, 100, 2]]);
    expect(await live(dep.id, 2)).toHaveLength(0);
    expect((await t.db.select().from(deployments).where(eq(deployments.id, dep.id)))[0]?.revision).toBe(1);
  });

  it('counts only what arrived since the step began: the old version’s earlier errors do not excuse the canary', async () => {
    const { agent, dep, scheduler } = await canaryOf(t, { share: 0.5, minCalls: 10, windowSeconds: 1 });
    // Before the canary serves: a bad spell of the old version, in the same minute.
    await edgeSaw(dep, dep.versions[0] as string, 10, 10);
    await scheduler.tick();
    await agent.report('ready');
    await scheduler.tick();
    await edgeSaw(dep, dep.versions[0] as string, 20, 0);
    await edgeSaw(dep, dep.versions[1] as string, 20, 4);
    await scheduler.tick();
    expect((await events(dep.id)).at(-1)).toMatch(
      /rolled back: 5xx 20% vs 0% over 20 calls \(old revision: 20\)/,
    );
  });

  it('rolls back a canary whose p95 is past twice the old one’s at the end of its window, not before', async () => {
    const { agent, dep, scheduler } = await canaryOf(t, { share: 0.5, minCalls: 10, windowSeconds: 2 });
    const start = Date.now();
    await scheduler.tick(start);
    await agent.report('ready');
    await scheduler.tick(start);
    await edgeSaw(dep, dep.versions[0] as string, 20, 0, 20);
    await edgeSaw(dep, dep.versions[1] as string, 20, 0, 400);
    await scheduler.tick(start + 1_000);
    expect((await events(dep.id)).at(-1)).not.toMatch(/rolled back/);
    await scheduler.tick(start + 2_500);
    expect((await events(dep.id)).at(-1)).toMatch(
      /rolled back: p95 \d+ ms vs \d+ ms over 20 calls, limit ×2 and \+10 ms/,
    );
  });

  it('steps up after a clean window, then promotes: the canary becomes the revision and the old one retires', async () => {
    const { agent, dep, scheduler } = await canaryOf(t, {
      steps: [0.1, 0.5, 1],
      minCalls: 10,
      windowSeconds: 1,
    });
    const start = Date.now();
    await scheduler.tick(start);
    await agent.report('ready');
    await scheduler.tick(start);
    await edgeSaw(dep, dep.versions[0] as string, 90, 0);
    await edgeSaw(dep, dep.versions[1] as string, 10, 0);
    await scheduler.tick(start + 500);
    // The window is not over yet.
    expect((await events(dep.id)).at(-1)).toMatch(/^canary_started/);
    await scheduler.tick(start + 1_500);
    expect((await events(dep.id)).at(-1)).toMatch(
      /passed 10%: 5xx 0% vs 0% over 10 calls .*; now takes 50%$/,
    );
    await scheduler.tick(start + 1_600);
    expect(await weights(scheduler, dep.id)).toEqual([
      [1, 50, 2],
      [2, 50, 1],
    ]);
    // The next step waits for its own minCalls: the first step's calls do not count again.
    await scheduler.tick(start + 5_000);
    expect((await events(dep.id)).at(-1)).toMatch(/now takes 50%$/);
    await edgeSaw(dep, dep.versions[1] as string, 10, 0);
    await scheduler.tick(start + 5_000);
    expect((await events(dep.id)).at(-1)).toMatch(
      /^canary_promoted: canary v2 \(revision 2\) promoted after 2 step/,
    );
    await scheduler.tick(start + 5_000);
    expect((await t.db.select().from(deployments).where(eq(deployments.id, dep.id)))[0]?.revision).toBe(2);
    expect(await live(dep.id, 2)).toHaveLength(2);
    await agent.report('ready');
    await scheduler.tick(start + 6_000);
    expect(await live(dep.id, 1)).toHaveLength(0);
  });

  it('rolls back a canary whose replica fails to load twice, with the agent’s reason', async () => {
    const { agent, dep, scheduler } = await canaryOf(t, { share: 0.1 });
    const start = Date.now();
    await scheduler.tick(start);
    const failOne = async () => {
      const state = await agent.desired();
      const canaryReplica = (await live(dep.id, 2))[0]?.id;
      const r = await t.client.call('POST', '/agent/v1/heartbeat', {
        token: agent.credential,
        body: {
          inventory: sampleInventory(),
          workloads: state.workloads.map((w) => ({
            workloadId: w.workloadId,
            kind: w.kind,
            ...(w.workloadId === canaryReplica
              ? { phase: 'failed', reason: 'onnxruntime: model file is corrupt' }
              : { phase: 'ready' }),
          })),
        },
      });
      if (r.status !== 200) throw new Error(`heartbeat: ${r.status}`);
    };
    await failOne();
    await scheduler.tick(start + 100);
    // The first failure is retried after its backoff, like every other replica's.
    await scheduler.tick(start + 2_000);
    expect((await events(dep.id)).some((e) => e.startsWith('canary_rolled_back'))).toBe(false);
    await failOne();
    await scheduler.tick(start + 2_100);
    await scheduler.tick(start + 2_200);
    expect((await events(dep.id)).at(-1)).toBe(
      'canary_rolled_back: canary v2 (revision 2) rolled back: its replica failed to load 2 times (onnxruntime: model file is corrupt)',
    );
  });
});
