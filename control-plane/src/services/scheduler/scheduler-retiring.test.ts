import type { RoutingSnapshot } from '@meridian/protocol';
import { and, eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deployedModel, fakeAgent, testScheduler } from '../../../testing/scheduler.js';
import { createTestApp } from '../../../testing/test-app.js';
import { deploymentEvents, deployments, workloads } from '../../db/schema.js';

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

const RETIRE_MS = 30_000;

/** A deployment with one ready replica that the autoscaler has just scaled to zero: it retires for 30 s. */
async function retiringAtZero() {
  const owner = await t.client.register('owner');
  const agent = await fakeAgent(t);
  const dep = await deployedModel(t, owner, {
    replicas: 1,
    gpuType: 'cpu',
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
    const reclaimed = await t.db
      .select()
      .from(deploymentEvents)
      .where(and(eq(deploymentEvents.deploymentId, dep.id), eq(deploymentEvents.type, 'replica_reclaimed')));
    expect(reclaimed.map((e) => e.message)).toEqual([
      `replica ${replica?.id} (revision 1) no longer retires: wanted again, it takes calls with its model still loaded`,
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
