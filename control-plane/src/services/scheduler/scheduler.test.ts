import type { RoutingSnapshot } from '@meridian/protocol';
import { eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deployedModel, fakeAgent, testScheduler } from '../../../testing/scheduler.js';
import { createTestApp } from '../../../testing/test-app.js';
import { agents, deploymentEvents, deployments, endedReplicas, workloads } from '../../db/schema.js';

let t: Awaited<ReturnType<typeof createTestApp>>;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(() => t.cleanup());

const statusOf = async (id: string) =>
  (await t.db.select().from(deployments).where(eq(deployments.id, id)))[0];
const routing = async () => {
  const r = await t.client.call('GET', '/internal/v1/routing', { token: t.edgeServiceToken });
  return r.json as RoutingSnapshot;
};

describe('scheduler', () => {
  it('places two replicas on two agents, follows their phases to ready and routes to both', async () => {
    const owner = await t.client.register('owner');
    const [a, b] = [await fakeAgent(t), await fakeAgent(t)];
    const dep = await deployedModel(t, owner);
    const scheduler = testScheduler(t);

    expect(await scheduler.tick()).toBe(true);
    const [onA, onB] = [await a.desired(), await b.desired()];
    expect(onA.workloads).toHaveLength(1);
    expect(onB.workloads).toHaveLength(1);
    const wA = onA.workloads[0];
    expect(wA?.kind === 'model' && wA.model.versionId).toBe(dep.versions[0]);
    expect(wA?.kind === 'model' && wA.model.downloadUrl).toMatch(/^http/);
    expect((await statusOf(dep.id))?.status).toBe('scheduled');

    await a.report('pulling');
    await b.report('loading');
    await scheduler.tick();
    expect((await statusOf(dep.id))?.status).toBe('pulling');
    // Nothing ready yet: the version it serves is named, with no replica, so the edge knows it (not a 404).
    expect((await routing()).deployments[0]?.versions).toEqual([
      { versionId: dep.versions[0], version: 1, weight: 100, replicas: [] },
    ]);

    await a.report('ready');
    await b.report('ready');
    await scheduler.tick();
    expect((await statusOf(dep.id))?.status).toBe('ready');
    const snapshot = await routing();
    const replicas = snapshot.deployments[0]?.versions[0]?.replicas.map((r) => r.agentId).sort();
    expect(replicas).toEqual([a.agentId, b.agentId].sort());
    expect(snapshot.deployments[0]?.versions[0]?.weight).toBe(100);

    // Nothing changed: the snapshot keeps its version and a pull with `since` says so.
    await scheduler.tick();
    const again = await t.client.call('GET', `/internal/v1/routing?since=${snapshot.version}`, {
      token: t.edgeServiceToken,
    });
    expect(again.json).toEqual({ unchanged: true, version: snapshot.version });
  });

  it("publishes each deployment's hold timeout in routing, and a PATCH of it reaches the next snapshot", async () => {
    const owner = await t.client.register('owner');
    const agent = await fakeAgent(t);
    const dep = await deployedModel(t, owner);
    const scheduler = testScheduler(t);
    await scheduler.tick();
    await agent.report('ready');
    await scheduler.tick();
    expect((await routing()).deployments[0]?.hold).toEqual({ maxWaitMs: 30_000 });

    const patched = await t.client.call('PATCH', `/v1/deployments/${dep.id}`, {
      token: owner.accessToken,
      body: { holdTimeoutSeconds: 7 },
    });
    expect(patched.status, patched.text).toBe(200);
    await scheduler.tick();
    expect((await routing()).deployments[0]?.hold).toEqual({ maxWaitMs: 7_000 });
  });

  it('stays pending with an actionable reason when no host fits, and places once one joins', async () => {
    const owner = await t.client.register('owner');
    const cpuOnly = {
      gpus: [],
      cpu: { cores: 4, memoryMiB: 8192 },
      disk: { freeBytes: 10 ** 11, totalBytes: 10 ** 12 },
    };
    await fakeAgent(t, { inventory: cpuOnly });
    const dep = await deployedModel(t, owner, { replicas: 1 });
    const scheduler = testScheduler(t);
    await scheduler.tick();
    const pending = await statusOf(dep.id);
    expect(pending?.status).toBe('pending');
    expect(pending?.statusReason).toMatch(/T4/);

    const gpuHost = await fakeAgent(t);
    await scheduler.tick();
    expect((await gpuHost.desired()).workloads).toHaveLength(1);
    expect((await statusOf(dep.id))?.status).toBe('scheduled');
  });

  it('marks a silent agent lost and places its replica on another host', async () => {
    const owner = await t.client.register('owner');
    const [a, b] = [await fakeAgent(t), await fakeAgent(t)];
    const dep = await deployedModel(t, owner, { replicas: 1 });
    const scheduler = testScheduler(t);
    await scheduler.tick();
    const holder = (await a.desired()).workloads.length === 1 ? a : b;
    const other = holder === a ? b : a;
    await holder.report('ready');
    await scheduler.tick();
    expect((await statusOf(dep.id))?.status).toBe('ready');

    // The other agent keeps heartbeating; the holder falls silent past the 10 s timeout.
    const later = Date.now() + 11_000;
    await other.report('ready');
    await t.db
      .update(agents)
      .set({ lastHeartbeatAt: new Date(later) })
      .where(eq(agents.id, other.agentId));
    await scheduler.tick(later);
    expect((await other.desired()).workloads).toHaveLength(1);
    expect((await holder.desired()).workloads).toHaveLength(0);
    const events = await t.db
      .select()
      .from(deploymentEvents)
      .where(eq(deploymentEvents.deploymentId, dep.id));
    expect(events.map((e) => e.type)).toContain('replica_lost');
    expect((await routing()).deployments[0]?.versions.flatMap((v) => v.replicas)).toEqual([]);
  });

  it('rolls to a new version without a moment with no ready replica', async () => {
    const owner = await t.client.register('owner');
    const [a, b] = [await fakeAgent(t), await fakeAgent(t)];
    const dep = await deployedModel(t, owner, { gpuType: 'cpu' });
    const scheduler = testScheduler(t);
    await scheduler.tick();
    await a.report('ready');
    await b.report('ready');
    await scheduler.tick();

    await dep.rollTo(2, dep.versions[1] as string);
    const now = Date.now();
    await scheduler.tick(now);
    // Old replicas still route while the new ones load.
    expect((await routing()).deployments[0]?.versions.map((v) => v.versionId)).toEqual([dep.versions[0]]);
    expect((await a.desired()).workloads).toHaveLength(2);

    await a.report('ready');
    await b.report('ready');
    await scheduler.tick(now + 100);
    const during = (await routing()).deployments[0]?.versions ?? [];
    expect(during.map((v) => [v.versionId, v.weight])).toEqual([[dep.versions[1], 100]]);
    // Retiring replicas stay on the agents for the grace period, then go.
    expect((await a.desired()).workloads).toHaveLength(2);
    await a.report('ready');
    await b.report('ready');
    await scheduler.tick(now + 1_200);
    const left = await t.db.select().from(workloads).where(eq(workloads.deploymentId, dep.id));
    expect(left.map((w) => w.revision)).toEqual([2, 2]);
    expect((await a.desired()).workloads).toHaveLength(1);
    // The replaced replicas are remembered, with their agents, so their lines stay readable there.
    const ended = await t.db.select().from(endedReplicas).where(eq(endedReplicas.deploymentId, dep.id));
    expect(ended.map((e) => [e.agentId, e.endedAt.getTime()]).sort()).toEqual(
      [
        [a.agentId, now + 1_200],
        [b.agentId, now + 1_200],
      ].sort(),
    );
  });

  it('answers a new version as not ready until its replicas are, so a waiter never takes the old one for it', async () => {
    const owner = await t.client.register('owner');
    const a = await fakeAgent(t);
    const dep = await deployedModel(t, owner, { gpuType: 'cpu', replicas: 1 });
    const scheduler = testScheduler(t);
    await scheduler.tick();
    await a.report('ready');
    await scheduler.tick();
    expect((await statusOf(dep.id))?.status).toBe('ready');

    const patched = await t.client.call('PATCH', `/v1/deployments/${dep.id}`, {
      token: owner.accessToken,
      body: { version: 2 },
    });
    expect(patched.status, patched.text).toBe(200);
    // No scheduler tick yet: the answer and a read both say the rollout is under way.
    expect([patched.json.status, patched.json.statusReason]).toEqual(['pending', 'rolling out version 2']);
    const read = await t.client.call('GET', `/v1/deployments/${dep.id}`, { token: owner.accessToken });
    expect(read.json.status).toBe('pending');
    await scheduler.tick();
    await a.report('ready');
    await scheduler.tick();
    expect((await statusOf(dep.id))?.status).toBe('ready');
  });

  it('drains an agent: its replica moves, and leaves only once the replacement is ready', async () => {
    const owner = await t.client.register('owner');
    const [a, b] = [await fakeAgent(t), await fakeAgent(t)];
    await deployedModel(t, owner, { replicas: 1, gpuType: 'cpu' });
    const scheduler = testScheduler(t);
    await scheduler.tick();
    const holder = (await a.desired()).workloads.length === 1 ? a : b;
    const other = holder === a ? b : a;
    await holder.report('ready');
    await scheduler.tick();

    const drained = await t.client.call('POST', `/internal/v1/agents/${holder.agentId}/drain`, {
      token: t.operatorToken,
    });
    expect(drained.status).toBe(200);
    expect(drained.json.status).toBe('draining');
    await scheduler.tick();
    expect((await other.desired()).workloads).toHaveLength(1);
    expect((await holder.desired()).workloads).toHaveLength(1);
    await other.report('ready');
    await holder.report('ready');
    await scheduler.tick();
    const snapshot = await routing();
    expect(snapshot.deployments[0]?.versions[0]?.replicas.map((r) => r.agentId)).toEqual([other.agentId]);

    const unknown = await t.client.call('POST', '/internal/v1/agents/agt_nope/drain', {
      token: t.operatorToken,
    });
    expect(unknown.status).toBe(404);
    const unauthenticated = await t.client.call('POST', `/internal/v1/agents/${holder.agentId}/drain`, {
      token: t.edgeServiceToken,
    });
    expect(unauthenticated.status).toBe(401);
  });

  it('gives agents a full heartbeat timeout to check in after it takes over, before calling them lost', async () => {
    const agent = await fakeAgent(t);
    const later = Date.now() + 60_000;
    // The control plane was down for a minute: the agent's last heartbeat is old, through no fault of its own.
    const scheduler = testScheduler(t);
    await scheduler.tick(later);
    const status = async () =>
      (await t.db.select().from(agents).where(eq(agents.id, agent.agentId)))[0]?.status;
    expect(await status()).toBe('online');
    await scheduler.tick(later + 10_001);
    expect(await status()).toBe('lost');
  });

  it('lets one instance schedule at a time and another take over when its lease expires', async () => {
    const first = testScheduler(t, { instanceId: 'cp-1', leaseTtlMs: 5_000 });
    const second = testScheduler(t, { instanceId: 'cp-2', leaseTtlMs: 5_000 });
    const now = Date.now();
    expect(await first.tick(now)).toBe(true);
    expect(await second.tick(now + 1_000)).toBe(false);
    expect(await first.tick(now + 2_000)).toBe(true);
    expect(await second.tick(now + 6_000)).toBe(false);
    expect(await second.tick(now + 7_001)).toBe(true);
    expect(await first.tick(now + 7_500)).toBe(false);
  });

  it('refuses the routing pull without the edge credential', async () => {
    const r = await t.client.call('GET', '/internal/v1/routing', { token: t.operatorToken });
    expect(r.status).toBe(401);
    expect(r.json.error.code).toBeDefined();
  });
});
