import { newId } from '@meridian/protocol';
import { eq, sql } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deployedModel, fakeAgent, testScheduler } from '../../../testing/scheduler.js';
import { createTestApp } from '../../../testing/test-app.js';
import { agents, modelVersions, notebooks } from '../../db/schema.js';
import { ClusterCache } from './cluster-cache.js';
import { loadClusterView } from './cluster-view.js';

let t: Awaited<ReturnType<typeof createTestApp>>;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(() => t.cleanup());

const NOW = Date.now();
/** The schedulers here leave the change log alone: the cache under test reads it too (in production, only the
 * lease holder reads it; one that finds it trimmed past its place reads everything, tested below). */
const KEEP_LOG = {
  clusterCache: { pruneAfterRows: Number.POSITIVE_INFINITY, pruneEveryMs: Number.POSITIVE_INFINITY },
};

/**
 * The cache's view after a change, checked against a full read of the same database: it must have followed
 * the change from the log alone (no full read), and see exactly what a full read sees.
 */
async function followsLikeFullRead(cache: ClusterCache, now = NOW) {
  const incremental = await cache.read(now);
  expect(cache.lastRead.full).toBe(false);
  expect(incremental).toEqual(await loadClusterView(t.db, now));
  return incremental;
}

describe('cluster cache: the in-memory view follows the change log like a full read', () => {
  it('sees new agents, heartbeats (and the reports in them), PATCHes, rollouts, deletions and model sizes', async () => {
    const owner = await t.client.register('owner');
    const call = (method: string, path: string, body?: unknown) =>
      t.client.call(method, path, { token: owner.accessToken, ...(body === undefined ? {} : { body }) });
    const a = await fakeAgent(t);
    const dep = await deployedModel(t, owner, { replicas: 2, scaling: { maxReplicas: 4 } });
    const cache = new ClusterCache(t.db);
    const first = await cache.read(NOW);
    expect(cache.lastRead.full).toBe(true);
    expect(first).toEqual(await loadClusterView(t.db, NOW));

    // Nothing changed: nothing read but the log.
    await followsLikeFullRead(cache);
    expect(cache.lastRead.changes).toBe(0);

    // A new agent.
    const b = await fakeAgent(t);
    expect((await followsLikeFullRead(cache)).agents.has(b.agentId)).toBe(true);

    // The scheduler places replicas (its own writes go through the log too), then heartbeats report them.
    const scheduler = testScheduler(t, KEEP_LOG);
    await scheduler.tick();
    expect((await followsLikeFullRead(cache)).workloads.filter((w) => w.agentId !== null)).toHaveLength(2);
    await a.report('loading');
    await b.report('ready');
    const reported = await followsLikeFullRead(cache);
    expect(reported.workloads.map((w) => w.report?.phase).sort()).toEqual(['loading', 'ready']);
    expect(reported.agents.get(a.agentId)?.lastHeartbeatAt).toBeGreaterThan(first.now - 60_000);

    // A heartbeat going stale: the scheduler marks the agent lost and moves its replica.
    await a.report('ready');
    await b.report('ready');
    await scheduler.tick();
    await b.report('ready');
    await scheduler.tick(Date.now() + 20_000);
    const lost = await followsLikeFullRead(cache);
    expect(lost.agents.get(a.agentId)?.status).toBe('lost');
    expect(lost.workloads.some((w) => w.agentId === a.agentId)).toBe(false);

    // A PATCH of the autoscaling settings and a rollout to another version, as the API writes them.
    const patched = await call('PATCH', `/v1/deployments/${dep.id}`, { minReplicas: 1, maxReplicas: 3 });
    expect(patched.status, patched.text).toBe(200);
    const afterPatch = await followsLikeFullRead(cache);
    expect(afterPatch.deployments.find((d) => d.id === dep.id)).toMatchObject({
      minReplicas: 1,
      maxReplicas: 3,
    });
    await dep.rollTo(2, dep.versions[1] as string);
    const rolled = await followsLikeFullRead(cache);
    expect(rolled.deployments.find((d) => d.id === dep.id)?.revisions.size).toBe(2);

    // A model version's size, which the view carries per revision.
    await t.db
      .update(modelVersions)
      .set({ sizeBytes: 123 })
      .where(eq(modelVersions.id, dep.versions[1] as string));
    const resized = await followsLikeFullRead(cache);
    expect(resized.deployments.find((d) => d.id === dep.id)?.revisions.get(2)?.sizeBytes).toBe(123);

    // An operator drains an agent; its data-plane key rotates.
    await t.db
      .update(agents)
      .set({ status: 'draining', dataPlaneKeyGeneration: 2 })
      .where(eq(agents.id, b.agentId));
    expect((await followsLikeFullRead(cache)).agents.get(b.agentId)).toMatchObject({
      status: 'draining',
      keyGeneration: 2,
    });

    // A deleted deployment: its replicas go with it (a foreign-key cascade).
    await scheduler.tick();
    expect((await followsLikeFullRead(cache)).workloads.length).toBeGreaterThan(0);
    const deleted = await call('DELETE', `/v1/deployments/${dep.id}`);
    expect(deleted.status).toBeLessThan(300);
    const gone = await followsLikeFullRead(cache);
    expect(gone.deployments).toEqual([]);
    expect(gone.workloads).toEqual([]);

    // A deleted agent.
    await t.db.delete(agents).where(eq(agents.id, b.agentId));
    expect((await followsLikeFullRead(cache)).agents.has(b.agentId)).toBe(false);
  });

  it('sees notebooks, their sessions and their deletion', async () => {
    const owner = await t.client.register('owner');
    const agent = await fakeAgent(t, { runtimes: ['process'] });
    const cache = new ClusterCache(t.db);
    await cache.read(NOW);
    const id = newId('notebook');
    await t.db.insert(notebooks).values({
      id,
      orgId: owner.orgId,
      ownerId: owner.userId,
      name: 'nb',
      gpuType: 't4',
      gpuCount: 1,
      image: 'quay.io/jupyter/base-notebook',
      idleTimeoutSeconds: 60,
      desired: 'running',
      token: 't'.repeat(32),
      updatedAt: new Date(),
    });
    expect((await followsLikeFullRead(cache)).notebooks.map((n) => n.id)).toEqual([id]);
    const scheduler = testScheduler(t, KEEP_LOG);
    await scheduler.tick();
    await agent.report('ready', { endpoint: 'http://127.0.0.1:1/nb/' });
    await scheduler.tick();
    const running = await followsLikeFullRead(cache);
    expect(running.notebooks[0]?.openSession).not.toBeNull();
    await t.db.delete(notebooks).where(eq(notebooks.id, id));
    const gone = await followsLikeFullRead(cache);
    expect(gone.notebooks).toEqual([]);
    expect(gone.workloads).toEqual([]);
  });

  it('hands out copies: a plan that edits its view does not change the next one', async () => {
    const owner = await t.client.register('owner');
    const a = await fakeAgent(t);
    await deployedModel(t, owner, { replicas: 1 });
    await testScheduler(t, KEEP_LOG).tick();
    const cache = new ClusterCache(t.db);
    const view = await cache.read(NOW);
    const [w] = view.workloads;
    if (!w) throw new Error('no workload');
    w.phase = 'failed';
    const agent = view.agents.get(a.agentId);
    if (agent) agent.status = 'lost';
    const d = view.deployments[0];
    if (d) d.desiredReplicas = 7;
    expect(await followsLikeFullRead(cache)).toEqual(await loadClusterView(t.db, NOW));
  });

  it('reads everything again after invalidate, after the full-read interval and when the clock goes back', async () => {
    await fakeAgent(t);
    const cache = new ClusterCache(t.db, { fullReadEveryMs: 10_000 });
    await cache.read(NOW);
    await cache.read(NOW + 1_000);
    expect(cache.lastRead.full).toBe(false);
    await cache.read(NOW + 11_000);
    expect(cache.lastRead.full).toBe(true);
    await cache.read(NOW + 5_000);
    expect(cache.lastRead.full).toBe(true);
    cache.invalidate();
    await cache.read(NOW + 6_000);
    expect(cache.lastRead.full).toBe(true);
  });

  it('trims the change log it has read, now and then rather than on every tick', async () => {
    const count = async () =>
      (await t.db.all<{ n: number }>(sql`select count(*) as n from cluster_changes`))[0]?.n ?? 0;
    const a = await fakeAgent(t);
    const cache = new ClusterCache(t.db, { pruneAfterRows: 1_000, pruneEveryMs: 10_000 });
    await cache.read(NOW);
    expect(await count()).toBe(0);
    await a.report('ready');
    await cache.read(NOW + 1_000);
    expect(await count()).toBeGreaterThan(0);
    await cache.read(NOW + 12_000);
    expect(await count()).toBe(0);
    // A full read of a trimmed (empty) log, as after taking the lease: the next reads follow the log again.
    cache.invalidate();
    await cache.read(NOW + 13_000);
    await a.report('loading');
    await followsLikeFullRead(cache, NOW + 14_000);
    await followsLikeFullRead(cache, NOW + 15_000);
    expect(cache.lastRead.changes).toBe(0);
  });

  it('makes a tick where nothing changed write nothing: no lease renewal, no empty transaction, no snapshot', async () => {
    const owner = await t.client.register('owner');
    const [a, b] = [await fakeAgent(t), await fakeAgent(t)];
    await deployedModel(t, owner, { replicas: 2 });
    const scheduler = testScheduler(t, { ...KEEP_LOG, leaseTtlMs: 15_000 });
    const now = Date.now();
    await scheduler.tick(now);
    await a.report('ready');
    await b.report('ready');
    await scheduler.tick(now + 100);
    await scheduler.tick(now + 200);
    // Rows this connection has written since it opened: the lease, the plan, the snapshot, the log trim.
    const written = async () =>
      (await t.db.all<{ n: number }>(sql`select total_changes() as n`))[0]?.n ?? Number.NaN;
    const before = await written();
    expect(await scheduler.tick(now + 300)).toBe(true);
    expect(await scheduler.tick(now + 400)).toBe(true);
    expect(await written()).toBe(before);
    // A heartbeat is a change: the next tick reads it (and still writes nothing when it changes nothing).
    await a.report('ready');
    const heartbeat = await written();
    expect(heartbeat).toBeGreaterThan(before);
    expect(await scheduler.tick(now + 500)).toBe(true);
    expect(await written()).toBe(heartbeat);
    // The lease is renewed once a third of its life has passed.
    expect(await scheduler.tick(now + 5_100)).toBe(true);
    expect(await written()).toBeGreaterThan(heartbeat);
  });

  it('moves its routing generation only on what routing reads: not on a heartbeat that changes no phase', async () => {
    const owner = await t.client.register('owner');
    const a = await fakeAgent(t);
    await deployedModel(t, owner, { replicas: 1 });
    await testScheduler(t, KEEP_LOG).tick();
    const cache = new ClusterCache(t.db);
    await cache.read(NOW);
    const routing = cache.routingGeneration;
    // The replica's report and the agent's heartbeat time change; nothing routing reads does.
    await a.report('loading');
    await followsLikeFullRead(cache);
    expect(cache.lastRead.changes).toBeGreaterThan(0);
    expect(cache.routingGeneration).toBe(routing);
    // The scheduler records the phase on the replica: routing reads that.
    await a.report('ready');
    await testScheduler(t, KEEP_LOG).tick();
    await followsLikeFullRead(cache);
    expect(cache.routingGeneration).toBeGreaterThan(routing);
    const ready = cache.routingGeneration;
    await t.db.update(agents).set({ dataPlaneKeyGeneration: 5 }).where(eq(agents.id, a.agentId));
    await followsLikeFullRead(cache);
    expect(cache.routingGeneration).toBeGreaterThan(ready);
  });

  it('reads everything when another instance trimmed the log past what it had read', async () => {
    const a = await fakeAgent(t);
    const cache = new ClusterCache(t.db);
    await cache.read(NOW);
    await a.report('ready');
    // Another instance, holding the lease meanwhile, reads the log and trims it.
    await new ClusterCache(t.db, { pruneAfterRows: 1 }).read(NOW);
    const view = await cache.read(NOW + 1);
    expect(cache.lastRead.full).toBe(true);
    expect(view).toEqual(await loadClusterView(t.db, NOW + 1));
  });
});
