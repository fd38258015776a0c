import type { RoutingSnapshot, WakeAnswer } from '@meridian/protocol';
import { eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deployedModel, fakeAgent, testScheduler } from '../../../testing/scheduler.js';
import { createTestApp, testClient } from '../../../testing/test-app.js';
import { deployments } from '../../db/schema.js';
import { publicReason } from './start-failure.js';

let t: Awaited<ReturnType<typeof createTestApp>>;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(() => t.cleanup());

const routing = async () =>
  (await t.client.call('GET', '/internal/v1/routing', { token: t.edgeServiceToken })).json as RoutingSnapshot;
const deployment = async (id: string) =>
  (await t.db.select().from(deployments).where(eq(deployments.id, id)))[0];
const routed = async (id: string) => (await routing()).deployments.find((d) => d.deploymentId === id);

describe('publicReason', () => {
  it('takes out replica and agent ids and host paths, and stays on one bounded line', () => {
    const reason = publicReason(
      'wl_01jzzzzzzzzzzzzzzzzzzzzzzz on agt_01jzzzzzzzzzzzzzzzzzzzzzzz:\n' +
        " Load model from /var/lib/meridian/cache/files/mdv_1 failed: protobuf parsing failed (image 'ghcr.io/acme/srv:1')",
    );
    expect(reason).toBe(
      "a replica on a host: Load model from a file on the host failed: protobuf parsing failed (image 'ghcr.io/acme/srv:1')",
    );
    expect(publicReason('x'.repeat(1_000))).toHaveLength(300);
  });
});

describe('routing carries why a deployment failed to start', () => {
  it('answers a wake failed as soon as the replica fails, with the reason routing carries until a start succeeds', async () => {
    const owner = await t.client.register('owner');
    const a = await fakeAgent(t);
    const dep = await deployedModel(t, owner, {
      replicas: 0,
      gpuType: 'cpu',
      scaling: { maxReplicas: 1, scaleToZeroAfterSeconds: 60 },
    });
    const scheduler = testScheduler(t, { intervalMs: 50 });
    const edge = testClient(t.anotherInstance({ scheduler, loadSignals: t.loadSignals }));
    await scheduler.tick();
    scheduler.start();
    try {
      const started = Date.now();
      const wake = edge.call('POST', `/internal/v1/deployments/${dep.id}/wake?waitMs=20000`, {
        token: t.edgeServiceToken,
        body: { held: 1 },
      });
      const { version } = await a.desired();
      await t.client.call('GET', `/agent/v1/desired-state?since=${version}&wait=10`, { token: a.credential });
      const [replica] = (await a.desired()).workloads;
      await a.report('failed', {
        reason: `onnxruntime could not load /var/lib/meridian/agent/cache/files/${replica?.workloadId}.onnx: protobuf parsing failed`,
      });
      scheduler.kick();

      const answer = (await wake).json as WakeAnswer;
      // Not the wait's 20 s: the failure ends it.
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(answer).toMatchObject({
        state: 'failed',
        reason: 'onnxruntime could not load a file on the host: protobuf parsing failed',
      });
      const failed = await routed(dep.id);
      expect(answer.routingVersion).toBeLessThanOrEqual((await routing()).version);
      expect(failed?.versions.map((v) => v.replicas)).toEqual([[]]);
      expect(failed?.startFailure?.reason).toBe(answer.reason);
      expect(failed?.startFailure?.retryAt).toBeGreaterThan(started);
      expect(JSON.stringify(failed?.startFailure)).not.toMatch(/wl_|agt_|\/var\//);

      // The retry (attempt 2) starting: the last start still failed, and routing still says why.
      await expect
        .poll(async () => (await a.desired()).workloads[0]?.workloadId, { timeout: 5_000 })
        .not.toBe(replica?.workloadId);
      await a.report('loading');
      scheduler.kick();
      await expect.poll(async () => (await deployment(dep.id))?.status, { timeout: 5_000 }).toBe('loading');
      expect((await routed(dep.id))?.startFailure).toEqual(failed?.startFailure);

      // It succeeds: routing serves it, with no failure.
      await a.report('ready');
      scheduler.kick();
      await expect
        .poll(async () => (await routed(dep.id))?.versions[0]?.replicas.length, { timeout: 5_000 })
        .toBe(1);
      expect((await routed(dep.id))?.startFailure).toBeUndefined();
    } finally {
      await scheduler.stop();
    }
  });

  it('carries no failure for a new revision of a deployment whose replica failed', async () => {
    const owner = await t.client.register('owner');
    const a = await fakeAgent(t);
    const dep = await deployedModel(t, owner, { replicas: 1, gpuType: 'cpu' });
    const scheduler = testScheduler(t);
    const start = Date.now();
    await scheduler.tick(start);
    await a.report('failed', { reason: 'out of memory' });
    await scheduler.tick(start + 100);
    expect((await routed(dep.id))?.startFailure?.reason).toBe('out of memory');

    // A new version (a new revision): its replica is a first attempt, starting.
    await dep.rollTo(2, dep.versions[1] as string);
    await scheduler.tick(start + 200);
    expect((await routed(dep.id))?.startFailure).toBeUndefined();
  });

  it('carries no failure for a replica that failed after it was ready: a crash, whose replacement calls wait for', async () => {
    const owner = await t.client.register('owner');
    const a = await fakeAgent(t);
    const dep = await deployedModel(t, owner, { replicas: 1, gpuType: 'cpu' });
    const scheduler = testScheduler(t);
    const start = Date.now();
    await scheduler.tick(start);
    await a.report('ready');
    await scheduler.tick(start + 100);
    expect((await routed(dep.id))?.versions[0]?.replicas).toHaveLength(1);
    await a.report('failed', { reason: 'the container exited after it was ready with code 137' });
    await scheduler.tick(start + 200);
    expect((await routed(dep.id))?.versions.map((v) => v.replicas)).toEqual([[]]);
    expect((await routed(dep.id))?.startFailure).toBeUndefined();
  });

  it('says no host fits while none can take the replica', async () => {
    const owner = await t.client.register('owner');
    const dep = await deployedModel(t, owner, { replicas: 1, gpuType: 't4' });
    const scheduler = testScheduler(t);
    await scheduler.tick();
    expect((await routed(dep.id))?.startFailure?.reason).toMatch(/^no online host/);
  });
});
