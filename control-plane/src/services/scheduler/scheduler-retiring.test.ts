import type { AgentHeartbeat, RoutingSnapshot } from '@meridian/protocol';
import { and, eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sampleInventory } from '../../../testing/agents.js';
import { deployedModel, fakeAgent, testScheduler } from '../../../testing/scheduler.js';
import { createTestApp } from '../../../testing/test-app.js';
import { agents, deploymentEvents, deployments, workloads } from '../../db/schema.js';

let t: Awaited<ReturnType<typeof createTestApp>>;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(() => t.cleanup());

const deployment = async (id: string) =>
  (await t.db.select().from(deployments).where(eq(deployments.id, id)))[0];
const replicasOf = async (id: string) => t.db.select().from(workloads).where(eq(workloads.deploymentId, id));
const routedReplicas = async () => {
  const r = await t.client.call('GET', '/internal/v1/routing', { token: t.edgeServiceToken });
  return (r.json as RoutingSnapshot).deployments[0]?.versions[0]?.replicas ?? [];
};

const reclaimedEvents = async (id: string) =>
  (
    await t.db
      .select()
      .from(deploymentEvents)
      .where(and(eq(deploymentEvents.deploymentId, id), eq(deploymentEvents.type, 'replica_reclaimed')))
  ).map((e) => e.message);

const RETIRE_MS = 30_000;

/** A deployment with one ready replica that the autoscaler has just scaled to zero: it retires for 30 s. */
async function retiringAtZero() {
  const owner = await t.client.register('owner');
  const agent = await fakeAgent(t);
  const dep = await deployedModel(t, owner, {
    replicas: 1,
    gpuType: 'cpu',
    name: 'ocr-cls',
    scaling: { minReplicas: 0, scaleToZeroAfterSeconds: 60 },
  });
  const scheduler = testScheduler(t, { heartbeatTimeoutMs: 3_600_000, retireAfterMs: RETIRE_MS });
  const start = Date.now();
  await scheduler.tick(start);
  await agent.report('ready');
  await scheduler.tick(start + 1_000);
  await scheduler.tick(start + 62_000);
  const [replica] = await replicasOf(dep.id);
  return { owner, agent, dep, scheduler, start, replica };
}

describe('scheduler: a replica retiring at zero', () => {
  it('reads ready, saying it is scaling to zero, until the last replica stops, then idle', async () => {
    const { dep, scheduler, start, replica } = await retiringAtZero();

    expect(replica?.retireAt).not.toBeNull();
    expect(await routedReplicas()).toEqual([]);
    expect(await deployment(dep.id)).toMatchObject({
      desiredReplicas: 0,
      status: 'ready',
      statusReason:
        'scaling to zero: its last replica takes no new calls and stops within 30 s; ' +
        'a call or a new minimum before then keeps it, loaded',
    });

    await scheduler.tick(start + 62_000 + RETIRE_MS);
    expect(await replicasOf(dep.id)).toHaveLength(0);
    expect(await deployment(dep.id)).toMatchObject({
      status: 'idle',
      statusReason: 'scaled to zero; the next call wakes it',
    });
  });

  it('takes the retiring replica back on --min 1 instead of starting a new one from cold', async () => {
    const { owner, agent, dep, scheduler, start, replica } = await retiringAtZero();

    const res = await t.client.call('PATCH', `/v1/deployments/${dep.id}`, {
      token: owner.accessToken,
      body: { minReplicas: 1 },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({
      desiredReplicas: 1,
      status: 'ready',
      statusReason: 'taking back its retiring replica, still loaded',
    });

    await scheduler.tick(start + 63_000);
    const after = await replicasOf(dep.id);
    expect(after.map((w) => [w.id, w.retireAt])).toEqual([[replica?.id, null]]);
    expect((await agent.desired()).workloads.map((w) => w.workloadId)).toEqual([replica?.id]);
    expect((await routedReplicas()).map((r) => r.agentId)).toEqual([agent.agentId]);
    expect(await deployment(dep.id)).toMatchObject({ status: 'ready', statusReason: null });
    expect(await reclaimedEvents(dep.id)).toEqual([
      `replica ${replica?.id} of ocr-cls v1 no longer retires: wanted again, it takes calls with its model still loaded`,
    ]);

    // Its retire time passes: it is no longer retiring, so it keeps serving.
    await scheduler.tick(start + 62_000 + RETIRE_MS + 1_000);
    expect((await replicasOf(dep.id)).map((w) => w.id)).toEqual([replica?.id]);
  });

  it('starts a new version from cold in that window, and says so: the old version is not taken back', async () => {
    const { owner, agent, dep, scheduler, start, replica } = await retiringAtZero();

    const res = await t.client.call('PATCH', `/v1/deployments/${dep.id}`, {
      token: owner.accessToken,
      body: { version: 2, minReplicas: 1 },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({
      revision: 2,
      desiredReplicas: 1,
      status: 'pending',
      statusReason: 'starting 1 replica from zero',
    });

    await scheduler.tick(start + 63_000);
    const after = await replicasOf(dep.id);
    // The retiring replica serves version 1: it goes on retiring, and a replica of version 2 starts.
    expect(after.find((w) => w.id === replica?.id)?.retireAt).not.toBeNull();
    expect(after.filter((w) => w.revision === 2)).toHaveLength(1);
    expect((await agent.desired()).workloads).toHaveLength(2);
  });

  it('stays at zero for a new version alone in that window: idle, as a deployment at zero is', async () => {
    const { owner, dep } = await retiringAtZero();

    const res = await t.client.call('PATCH', `/v1/deployments/${dep.id}`, {
      token: owner.accessToken,
      body: { version: 2 },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({
      revision: 2,
      desiredReplicas: 0,
      status: 'idle',
      statusReason: 'scaled to zero; the next call wakes it',
    });
  });
});

type Agent = Awaited<ReturnType<typeof fakeAgent>>;

/** A heartbeat from `agent` reporting each of its replicas' phase as `phases` says (else ready). */
async function heartbeat(agent: Agent, phases: Record<string, { phase: 'failed'; reason: string }>) {
  const state = await agent.desired();
  const body: AgentHeartbeat = {
    inventory: sampleInventory(),
    workloads: state.workloads.map((w) => ({
      workloadId: w.workloadId,
      kind: w.kind,
      ...(phases[w.workloadId] ?? { phase: 'ready' }),
    })),
  };
  const r = await t.client.call('POST', '/agent/v1/heartbeat', { token: agent.credential, body });
  if (r.status !== 200) throw new Error(`heartbeat: ${r.status} ${r.text}`);
}

/**
 * Two ready replicas of `ocr-cls` version 1 on `hosts` agents, then `--max 1`: one goes on serving (`kept`),
 * the other leaves routing and retires for 30 s (`retiring`), its model still loaded.
 */
async function oneRetiringBesideOne(hosts: 1 | 2, heartbeatTimeoutMs = 3_600_000) {
  const owner = await t.client.register('owner');
  const fleet = hosts === 1 ? [await fakeAgent(t)] : [await fakeAgent(t), await fakeAgent(t)];
  const dep = await deployedModel(t, owner, { replicas: 2, gpuType: 'cpu', name: 'ocr-cls' });
  const scheduler = testScheduler(t, { heartbeatTimeoutMs, retireAfterMs: RETIRE_MS });
  const start = Date.now();
  await scheduler.tick(start);
  for (const a of fleet) await a.report('ready');
  await scheduler.tick(start + 1_000);
  const res = await t.client.call('PATCH', `/v1/deployments/${dep.id}`, {
    token: owner.accessToken,
    body: { minReplicas: 1, maxReplicas: 1 },
  });
  expect(res.status, res.text).toBe(200);
  await scheduler.tick(start + 2_000);
  const replicas = await replicasOf(dep.id);
  const kept = replicas.find((w) => w.retireAt === null);
  const retiring = replicas.find((w) => w.retireAt !== null);
  if (!kept || !retiring) throw new Error('expected one replica kept and one retiring');
  const holder = (id: string | null) => fleet.find((a) => a.agentId === id) ?? (fleet[0] as Agent);
  return { dep, scheduler, start, kept, retiring, fleet, keptAgent: holder(kept.agentId), holder };
}

describe('scheduler: a replica failing beside a retiring one of its version', () => {
  it('takes the retiring replica back at once instead of starting a new one from cold', async () => {
    const { dep, scheduler, start, kept, retiring, keptAgent } = await oneRetiringBesideOne(1);

    await heartbeat(keptAgent, {
      [kept.id]: { phase: 'failed', reason: 'exited after it was ready with code 137' },
    });
    // Past the 1 s backoff a first failure waits before a new attempt starts.
    await scheduler.tick(start + 5_000);

    // No new replica: the retiring one serves again, and the failed one is gone.
    const after = await replicasOf(dep.id);
    expect(after.map((w) => [w.id, w.retireAt])).toEqual([[retiring.id, null]]);
    expect((await keptAgent.desired()).workloads.map((w) => w.workloadId)).toEqual([retiring.id]);
    expect((await routedReplicas()).map((r) => r.agentId)).toEqual([retiring.agentId]);
    expect(await deployment(dep.id)).toMatchObject({
      desiredReplicas: 1,
      status: 'ready',
      statusReason: null,
    });
    expect(await reclaimedEvents(dep.id)).toEqual([
      `replica ${retiring.id} of ocr-cls v1 no longer retires: it takes calls with its model still loaded ` +
        `in place of replica ${kept.id}, which failed on agent ${kept.agentId}: exited after it was ready with code 137`,
    ]);

    // Its retire time passes: it is no longer retiring, so it keeps serving.
    await scheduler.tick(start + 2_000 + RETIRE_MS + 1_000);
    expect((await replicasOf(dep.id)).map((w) => w.id)).toEqual([retiring.id]);
  });

  it("takes the retiring replica back when the other one's host goes silent", async () => {
    const { dep, scheduler, start, kept, retiring, holder } = await oneRetiringBesideOne(2, 10_000);
    const silent = holder(kept.agentId);
    const alive = holder(retiring.agentId);
    expect(silent.agentId).not.toBe(alive.agentId);

    // The host of the kept replica falls silent past a 10 s timeout; the other keeps heartbeating.
    const later = start + 12_000;
    await alive.report('ready');
    await t.db
      .update(agents)
      .set({ lastHeartbeatAt: new Date(later) })
      .where(eq(agents.id, alive.agentId));
    await scheduler.tick(later);

    expect((await replicasOf(dep.id)).map((w) => [w.id, w.retireAt])).toEqual([[retiring.id, null]]);
    expect((await routedReplicas()).map((r) => r.agentId)).toEqual([alive.agentId]);
    expect(await reclaimedEvents(dep.id)).toEqual([
      `replica ${retiring.id} of ocr-cls v1 no longer retires: wanted again, it takes calls with its model still loaded`,
    ]);
  });

  it('replaces a failed replica of a new version from cold: a retiring one of the old version is not taken', async () => {
    const owner = await t.client.register('owner');
    const agent = await fakeAgent(t);
    const dep = await deployedModel(t, owner, { replicas: 1, gpuType: 'cpu', name: 'ocr-cls' });
    const scheduler = testScheduler(t, { heartbeatTimeoutMs: 3_600_000, retireAfterMs: RETIRE_MS });
    const start = Date.now();
    await scheduler.tick(start);
    await agent.report('ready');
    await scheduler.tick(start + 1_000);
    await dep.rollTo(2, dep.versions[1] as string);
    await scheduler.tick(start + 2_000);
    await agent.report('ready');
    await scheduler.tick(start + 3_000);
    const old = (await replicasOf(dep.id)).find((w) => w.revision === 1);
    const fresh = (await replicasOf(dep.id)).find((w) => w.revision === 2);
    expect(old?.retireAt).not.toBeNull();

    await heartbeat(agent, { [fresh?.id ?? '']: { phase: 'failed', reason: 'exited with code 1' } });
    await scheduler.tick(start + 8_000);

    const after = await replicasOf(dep.id);
    expect(after.find((w) => w.id === old?.id)?.retireAt).not.toBeNull();
    expect(after.filter((w) => w.revision === 2 && w.id !== fresh?.id).map((w) => w.attempt)).toEqual([2]);
    expect(await reclaimedEvents(dep.id)).toEqual([]);
  });
});
