import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deployedModel, fakeAgent, testScheduler } from '../../../testing/scheduler.js';
import { createTestApp } from '../../../testing/test-app.js';

let t: Awaited<ReturnType<typeof createTestApp>>;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(() => t.cleanup());

/** A deployment scaled to zero, as the scheduler leaves it (scheduler-autoscaling.test.ts gets it there). */
const AT_ZERO = {
  minReplicas: 0,
  maxReplicas: 3,
  desiredReplicas: 0,
  scaleToZeroAfterSeconds: 300,
  status: 'idle',
  statusReason: 'scaled to zero; the next call wakes it',
} as const;

describe('PATCH /v1/deployments/{id} on a deployment scaled to zero', () => {
  it('answers it starting once its new minimum wants replicas, not idle until the next tick', async () => {
    const owner = await t.client.register('owner');
    const agent = await fakeAgent(t);
    const dep = await deployedModel(t, owner, { gpuType: 'cpu', scaling: AT_ZERO });
    const patch = (body: object) =>
      t.client.call('PATCH', `/v1/deployments/${dep.id}`, { token: owner.accessToken, body });

    const res = await patch({ minReplicas: 2 });

    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      minReplicas: 2,
      desiredReplicas: 2,
      status: 'pending',
      statusReason: 'starting 2 replicas from zero',
    });
    const read = await t.client.call('GET', `/v1/deployments/${dep.id}`, { token: owner.accessToken });
    expect(read.json).toMatchObject({ status: 'pending', desiredReplicas: 2 });
    // The scheduler then takes it from there: its replicas are placed and the status follows them.
    await testScheduler(t).tick();
    expect((await agent.desired()).workloads).toHaveLength(2);
    await agent.report('ready');
    await testScheduler(t).tick();
    const ready = await t.client.call('GET', `/v1/deployments/${dep.id}`, { token: owner.accessToken });
    expect(ready.json).toMatchObject({ status: 'ready', statusReason: null });
  });

  it('stays idle for a change that wants no replica', async () => {
    const owner = await t.client.register('owner');
    const dep = await deployedModel(t, owner, { gpuType: 'cpu', scaling: AT_ZERO });

    const res = await t.client.call('PATCH', `/v1/deployments/${dep.id}`, {
      token: owner.accessToken,
      body: { maxReplicas: 5, deterministic: true },
    });

    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      desiredReplicas: 0,
      status: 'idle',
      statusReason: AT_ZERO.statusReason,
    });
  });
});
