import type { WakeAnswer } from '@meridian/protocol';
import { and, eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deployedModel, fakeAgent, testScheduler } from '../../../testing/scheduler.js';
import { createTestApp, testClient } from '../../../testing/test-app.js';
import { deploymentEvents, deployments, workloads } from '../../db/schema.js';

let t: Awaited<ReturnType<typeof createTestApp>>;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(() => t.cleanup());

const deployment = async (id: string) =>
  (await t.db.select().from(deployments).where(eq(deployments.id, id)))[0];
const eventsOf = async (id: string, type: string) =>
  t.db
    .select()
    .from(deploymentEvents)
    .where(and(eq(deploymentEvents.deploymentId, id), eq(deploymentEvents.type, type)));
const replicasOf = async (id: string) => t.db.select().from(workloads).where(eq(workloads.deploymentId, id));

describe('scheduler: autoscaling', () => {
  it('scales up on the load agents report, spread over both agents, with the numbers in an event', async () => {
    const owner = await t.client.register('owner');
    const [a, b] = [await fakeAgent(t), await fakeAgent(t)];
    const dep = await deployedModel(t, owner, { replicas: 1, gpuType: 'cpu', scaling: { maxReplicas: 4 } });
    const scheduler = testScheduler(t);
    const start = Date.now();
    await scheduler.tick(start);
    const holder = (await a.desired()).workloads.length === 1 ? a : b;
    await holder.report('ready');
    await scheduler.tick(start + 2_000);

    // Ticks two seconds apart, as the scheduler runs: the 6 s average climbs until it needs three replicas.
    await holder.load(40, 2);
    for (let at = start + 4_000; at <= start + 10_000; at += 2_000) await scheduler.tick(at);
    expect((await deployment(dep.id))?.desiredReplicas).toBe(3);
    const scaled = (await eventsOf(dep.id, 'autoscaled')).map((e) => e.message);
    expect(scaled.at(-1)).toMatch(/→ 3 replicas: 40 in flight, 2 queued, 0 held .*target 16 per replica/);
    const counts = [(await a.desired()).workloads.length, (await b.desired()).workloads.length].sort();
    expect(counts).toEqual([1, 2]);
  });

  it('never scales past maxReplicas', async () => {
    const owner = await t.client.register('owner');
    const a = await fakeAgent(t);
    const dep = await deployedModel(t, owner, { replicas: 1, gpuType: 'cpu', scaling: { maxReplicas: 2 } });
    const scheduler = testScheduler(t);
    await scheduler.tick();
    await a.report('ready');
    await a.load(1_000);
    await scheduler.tick();
    expect((await deployment(dep.id))?.desiredReplicas).toBe(2);
    expect(await replicasOf(dep.id)).toHaveLength(2);
  });

  it('scales to zero after its idle window, shows it idle and out of routing, and bills from then on nothing', async () => {
    const owner = await t.client.register('owner');
    const a = await fakeAgent(t);
    const dep = await deployedModel(t, owner, {
      replicas: 1,
      gpuType: 'cpu',
      scaling: { minReplicas: 0, scaleToZeroAfterSeconds: 60 },
    });
    const scheduler = testScheduler(t, { heartbeatTimeoutMs: 3_600_000, retireAfterMs: 0 });
    const start = Date.now();
    await scheduler.tick(start);
    await a.report('ready');
    await scheduler.tick(start + 1_000);
    await scheduler.tick(start + 50_000);
    expect((await deployment(dep.id))?.desiredReplicas).toBe(1);

    await scheduler.tick(start + 62_000);
    await scheduler.tick(start + 63_000);
    const idle = await deployment(dep.id);
    expect(idle).toMatchObject({ desiredReplicas: 0, status: 'idle' });
    expect(await replicasOf(dep.id)).toHaveLength(0);
    expect((await a.desired()).workloads).toHaveLength(0);
    const [event] = await eventsOf(dep.id, 'autoscaled');
    expect(event?.message).toMatch(/^1 → 0 replicas: no calls for 6\d s \(scale to zero after 60 s\)$/);
  });
});

describe('wake', () => {
  it('starts exactly one replica for 20 wakes at once and answers each when routing shows it ready', async () => {
    const owner = await t.client.register('owner');
    const a = await fakeAgent(t);
    const dep = await deployedModel(t, owner, {
      replicas: 0,
      gpuType: 'cpu',
      scaling: { maxReplicas: 3, scaleToZeroAfterSeconds: 60 },
    });
    const scheduler = testScheduler(t, { intervalMs: 5_000 });
    // The app the edge calls kicks this scheduler, as main.ts wires it.
    const edge = testClient(t.anotherInstance({ scheduler, loadSignals: t.loadSignals }));
    await scheduler.tick();
    expect((await deployment(dep.id))?.status).toBe('idle');
    scheduler.start();
    try {
      const wakes = Array.from({ length: 20 }, () =>
        edge.call('POST', `/internal/v1/deployments/${dep.id}/wake?waitMs=10000`, {
          token: t.edgeServiceToken,
          body: { held: 1 },
        }),
      );
      // The agent's long poll wakes with the new replica (no heartbeat needed); it loads and says ready.
      const { version } = await a.desired();
      const poll = await t.client.call('GET', `/agent/v1/desired-state?since=${version}&wait=10`, {
        token: a.credential,
      });
      expect(poll.json.workloads).toHaveLength(1);
      await a.report('ready');
      scheduler.kick();
      const answers = (await Promise.all(wakes)).map((r) => r.json as WakeAnswer);
      expect(new Set(answers.map((x) => x.state))).toEqual(new Set(['ready']));
      expect(new Set(answers.map((x) => x.routingVersion)).size).toBe(1);
      expect(await replicasOf(dep.id)).toHaveLength(1);
      expect(await eventsOf(dep.id, 'woken')).toHaveLength(1);
      // After it is ready the held calls reach it; their count alone adds no replica.
      await scheduler.tick();
      expect(await replicasOf(dep.id)).toHaveLength(1);
      const routing = await edge.call('GET', '/internal/v1/routing', { token: t.edgeServiceToken });
      expect(routing.json.version).toBeGreaterThanOrEqual(answers[0]?.routingVersion ?? Infinity);
    } finally {
      await scheduler.stop();
    }
  });

  it('answers starting when the wait ends first, and failed with the reason when no host can take it', async () => {
    const owner = await t.client.register('owner');
    const dep = await deployedModel(t, owner, {
      replicas: 0,
      gpuType: 't4',
      scaling: { maxReplicas: 1, scaleToZeroAfterSeconds: 60 },
    });
    const scheduler = testScheduler(t);
    const wake = (waitMs: number) =>
      t.client.call('POST', `/internal/v1/deployments/${dep.id}/wake?waitMs=${waitMs}`, {
        token: t.edgeServiceToken,
        body: { held: 2 },
      });
    expect((await wake(0)).json).toEqual({ state: 'starting' });
    await scheduler.tick();
    const failed = await wake(50);
    expect(failed.json).toMatchObject({ state: 'failed', reason: expect.stringContaining('no online host') });
  });

  it('refuses callers without the edge token, unknown deployments and waits past 30 s', async () => {
    const path = '/internal/v1/deployments/dep_01JZZZZZZZZZZZZZZZZZZZZZZZ/wake';
    const body = { held: 1 };
    expect((await t.client.call('POST', path, { body })).status).toBe(401);
    expect((await t.client.call('POST', path, { body, token: t.edgeServiceToken })).status).toBe(404);
    const long = await t.client.call('POST', `${path}?waitMs=30001`, { body, token: t.edgeServiceToken });
    expect(long.status).toBe(400);
    const negative = await t.client.call('POST', path, { body: { held: -1 }, token: t.edgeServiceToken });
    expect(negative.status).toBe(400);
  });
});

describe('agent load reports', () => {
  it('are taken from an authenticated agent only, and refused when malformed', async () => {
    const a = await fakeAgent(t);
    const body = { sentAt: Date.now(), replicas: [{ workloadId: 'wl_x', inFlight: 1, queued: 0 }] };
    expect((await t.client.call('POST', '/agent/v1/load', { body })).status).toBe(401);
    const ok = await t.client.call('POST', '/agent/v1/load', { body, token: a.credential });
    expect(ok.status).toBe(204);
    expect(t.loadSignals.replica(a.agentId, 'wl_x')?.inFlight).toBe(1);
    // Keyed by the reporting agent: another agent's replica of the same id is untouched.
    expect(t.loadSignals.replica('agt_other', 'wl_x')).toBeUndefined();
    const bad = { sentAt: Date.now(), replicas: [{ workloadId: 'wl_x', inFlight: -3, queued: 0 }] };
    expect((await t.client.call('POST', '/agent/v1/load', { body: bad, token: a.credential })).status).toBe(
      400,
    );
  });
});
