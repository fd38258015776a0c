import type { RoutingSnapshot } from '@meridian/protocol';
import { and, eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sampleInventory } from '../../../testing/agents.js';
import { deployedModel, fakeAgent, testScheduler } from '../../../testing/scheduler.js';
import { createTestApp, testClient } from '../../../testing/test-app.js';
import { deploymentEvents, deployments, workloads } from '../../db/schema.js';

let t: Awaited<ReturnType<typeof createTestApp>>;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(() => t.cleanup());

const eventsOf = async (id: string) =>
  t.db
    .select()
    .from(deploymentEvents)
    .where(eq(deploymentEvents.deploymentId, id))
    .orderBy(deploymentEvents.id);

describe('scheduler: start-up phases', () => {
  it('records when a replica was scheduled, pulled, loaded and ready and first called, in events and on the deployment', async () => {
    const owner = await t.client.register('owner');
    const a = await fakeAgent(t);
    const dep = await deployedModel(t, owner, { replicas: 1, gpuType: 'cpu' });
    const scheduler = testScheduler(t);
    await scheduler.tick();
    for (const phase of ['pulling', 'loading', 'ready'] as const) {
      await a.report(phase);
      await scheduler.tick();
    }
    await a.load(1);
    await scheduler.tick();

    const got = await t.client.call('GET', `/v1/deployments/${dep.id}`, { token: owner.accessToken });
    const s = got.json.startup;
    expect(s).toMatchObject({ attempt: 1, replicaId: expect.stringMatching(/^wl_/) });
    const times = [s.scheduledAt, s.pullingAt, s.pulledAt, s.readyAt, s.firstCallAt].map((x) =>
      Date.parse(x),
    );
    expect(times.every(Number.isFinite)).toBe(true);
    expect([...times].sort((x, y) => x - y)).toEqual(times);
    const types = (await eventsOf(dep.id)).map((e) => e.type);
    for (const type of [
      'replica_scheduled',
      'replica_pulling',
      'replica_loading',
      'replica_ready',
      'replica_first_call',
    ])
      expect(types).toContain(type);
    const ready = (await eventsOf(dep.id)).find((e) => e.type === 'replica_ready');
    expect(ready?.message).toMatch(/is ready, loaded in \d+ ms; \d+ ms after it was scheduled$/);
  });

  it('puts a ready replica into the routing snapshot at once: the heartbeat kicks the scheduler', async () => {
    const owner = await t.client.register('owner');
    // A minute between ticks of its own: only the kick can explain a prompt snapshot.
    const scheduler = testScheduler(t, { intervalMs: 60_000 });
    const kicked = { ...t, client: testClient(t.anotherInstance({ scheduler, loadSignals: t.loadSignals })) };
    const a = await fakeAgent(kicked);
    const dep = await deployedModel(t, owner, { replicas: 1, gpuType: 'cpu' });
    scheduler.start();
    try {
      for (let i = 0; i < 100 && (await a.desired()).workloads.length === 0; i++)
        await new Promise((r) => setTimeout(r, 20));
      const started = Date.now();
      await a.report('ready');
      let routed = false;
      while (!routed && Date.now() - started < 5_000) {
        const r = await kicked.client.call('GET', '/internal/v1/routing', { token: t.edgeServiceToken });
        const snapshot = r.json as RoutingSnapshot;
        routed = snapshot.deployments.some(
          (d) => d.deploymentId === dep.id && d.versions.some((v) => v.replicas.length > 0),
        );
        if (!routed) await new Promise((r) => setTimeout(r, 10));
      }
      expect(routed).toBe(true);
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      await scheduler.stop();
    }
  });
});

describe('scheduler: failed replicas', () => {
  it('replaces a failed replica after a backoff on the other host, and the deployment says why', async () => {
    const owner = await t.client.register('owner');
    const [a, b] = [await fakeAgent(t), await fakeAgent(t)];
    const dep = await deployedModel(t, owner, { replicas: 1, gpuType: 'cpu' });
    const scheduler = testScheduler(t);
    const start = Date.now();
    await scheduler.tick(start);
    const holder = (await a.desired()).workloads.length === 1 ? a : b;
    const other = holder === a ? b : a;
    await holder.report('failed', { reason: 'onnxruntime could not load the model' });
    await scheduler.tick(start + 100);
    const [failed] = await t.db.select().from(deployments).where(eq(deployments.id, dep.id));
    expect(failed?.status).toBe('failed');
    expect(failed?.statusReason).toMatch(/could not load the model; attempt 2 in 1 s$/);
    expect((await other.desired()).workloads).toHaveLength(0);

    await scheduler.tick(start + 1_200);
    expect((await holder.desired()).workloads).toHaveLength(0);
    expect((await other.desired()).workloads).toHaveLength(1);
    const retried = (await eventsOf(dep.id)).find((e) => e.type === 'replica_retry');
    expect(retried?.message).toContain(
      `failed on agent ${holder.agentId}: onnxruntime could not load the model`,
    );
    const [retry] = await t.db
      .select()
      .from(workloads)
      .where(and(eq(workloads.deploymentId, dep.id), eq(workloads.agentId, other.agentId)));
    expect(retry).toMatchObject({ attempt: 2, avoidAgents: [holder.agentId] });
    const [pending] = await t.db.select().from(deployments).where(eq(deployments.id, dep.id));
    expect(pending?.statusReason).toContain(`attempt 2, after a failure on agent ${holder.agentId}`);

    await other.report('ready');
    await scheduler.tick(start + 1_500);
    const [ready] = await t.db.select().from(deployments).where(eq(deployments.id, dep.id));
    expect(ready?.status).toBe('ready');
  });

  it('retries on the same host when it is the only one that fits, waiting longer each time', async () => {
    const owner = await t.client.register('owner');
    const a = await fakeAgent(t);
    const dep = await deployedModel(t, owner, { replicas: 1, gpuType: 'cpu' });
    const scheduler = testScheduler(t);
    const start = Date.now();
    await scheduler.tick(start);
    await a.report('failed', { reason: 'out of memory' });
    await scheduler.tick(start + 100);
    await scheduler.tick(start + 1_200);
    await a.report('failed', { reason: 'out of memory' });
    await scheduler.tick(start + 1_300);
    const [second] = await t.db.select().from(deployments).where(eq(deployments.id, dep.id));
    // Failed at most 1.3 s in (the heartbeat's own time may be earlier): the second backoff is 2 s.
    expect(second?.statusReason).toMatch(/attempt 3 in [12] s$/);
    await scheduler.tick(start + 3_400);
    const [third] = await t.db.select().from(workloads).where(eq(workloads.deploymentId, dep.id));
    expect(third).toMatchObject({ attempt: 3, agentId: a.agentId });
  });
});

describe("scheduler: a deployment's start problem, as data", () => {
  const problemOf = async (owner: { accessToken: string }, id: string) =>
    (await t.client.call('GET', `/v1/deployments/${id}`, { token: owner.accessToken })).json.startProblem;

  it('is failed with the replica’s reason and its retry time, stays so while the next attempt starts, and clears once one is ready', async () => {
    const owner = await t.client.register('owner');
    const a = await fakeAgent(t);
    const dep = await deployedModel(t, owner, { replicas: 1, gpuType: 'cpu' });
    const scheduler = testScheduler(t);
    const start = Date.now();
    await scheduler.tick(start);
    expect(await problemOf(owner, dep.id)).toBeNull();
    const failed = (await a.desired()).workloads[0]?.workloadId;
    await a.report('failed', {
      reason: `onnxruntime could not load /var/lib/meridian/cache/${failed}/m.onnx`,
    });
    await scheduler.tick(start + 100);
    const problem = await problemOf(owner, dep.id);
    expect(problem).toEqual({
      kind: 'failed',
      message: 'onnxruntime could not load a file on the host',
      retryAt: expect.any(String),
    });
    expect(Date.parse(problem.retryAt) - start).toBeGreaterThanOrEqual(900);

    await scheduler.tick(start + 1_200);
    await a.report('loading');
    await scheduler.tick(start + 1_300);
    expect(
      (await t.client.call('GET', `/v1/deployments/${dep.id}`, { token: owner.accessToken })).json,
    ).toMatchObject({ status: 'loading', startProblem: { kind: 'failed' } });
    await a.report('ready');
    await scheduler.tick(start + 1_400);
    expect(await problemOf(owner, dep.id)).toBeNull();
  });

  it('is not written over a rollout that landed while the tick planned: the new version has not failed', async () => {
    const owner = await t.client.register('owner');
    const a = await fakeAgent(t);
    const dep = await deployedModel(t, owner, { replicas: 1, gpuType: 'cpu' });
    const scheduler = testScheduler(t);
    await scheduler.tick();
    await a.report('failed', { reason: 'version 1 cannot load' });
    // The owner rolls out version 2 between the tick reading the cluster and writing its plan.
    const cluster = (scheduler as unknown as { cluster: { read(now: number): Promise<unknown> } }).cluster;
    const read = cluster.read.bind(cluster);
    cluster.read = async (now: number) => {
      const view = await read(now);
      const patched = await t.client.call('PATCH', `/v1/deployments/${dep.id}`, {
        token: owner.accessToken,
        body: { version: 2 },
      });
      expect(patched.status, patched.text).toBe(200);
      cluster.read = read;
      return view;
    };
    await scheduler.tick();
    // A batch job reading 'failed' here would end at once, though version 2 never tried to start.
    const [row] = await t.db
      .select({ revision: deployments.revision, startProblem: deployments.startProblem })
      .from(deployments)
      .where(eq(deployments.id, dep.id));
    expect(row).toEqual({ revision: 2, startProblem: null });
    // The next tick plans for version 2 and says so.
    await scheduler.tick();
    const got = (await t.client.call('GET', `/v1/deployments/${dep.id}`, { token: owner.accessToken })).json;
    expect(got).toMatchObject({ startProblem: null });
    expect(got.status).not.toBe('failed');
  });

  it('is unplaceable with placement’s reason while no host has its hardware, and clears once one joins', async () => {
    const owner = await t.client.register('owner');
    await fakeAgent(t, { inventory: { ...sampleInventory(), gpus: [] } });
    const dep = await deployedModel(t, owner, { replicas: 1, gpuType: 't4' });
    const scheduler = testScheduler(t);
    await scheduler.tick();
    const got = (await t.client.call('GET', `/v1/deployments/${dep.id}`, { token: owner.accessToken })).json;
    expect(got.status).toBe('pending');
    expect(got.startProblem).toEqual({ kind: 'unplaceable', message: expect.stringMatching(/T4/) });
    expect(got.statusReason).toContain(got.startProblem.message);

    await fakeAgent(t);
    await scheduler.tick();
    expect(await problemOf(owner, dep.id)).toBeNull();
  });
});
