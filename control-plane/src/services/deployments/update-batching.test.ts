import type { DesiredModelWorkload, DesiredStatePoll } from '@meridian/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deployedModel, fakeAgent, testScheduler } from '../../../testing/scheduler.js';
import { createTestApp } from '../../../testing/test-app.js';

let t: Awaited<ReturnType<typeof createTestApp>>;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(() => t.cleanup());

describe('PATCH /v1/deployments/{id}: settings agents apply', () => {
  it('wakes the long poll of the agent holding a replica with a batching change, and only then', async () => {
    const owner = await t.client.register('owner');
    const agent = await fakeAgent(t);
    const dep = await deployedModel(t, owner, { replicas: 1, gpuType: 'cpu' });
    await testScheduler(t).tick();
    const { version } = await agent.report('ready');
    const patch = (body: object) =>
      t.client.call('PATCH', `/v1/deployments/${dep.id}`, { token: owner.accessToken, body });

    const started = Date.now();
    const poll = t.client.call('GET', `/agent/v1/desired-state?since=${version}&wait=12`, {
      token: agent.credential,
    });
    expect((await patch({ batching: { maxBatchSize: 8, maxQueueDelayMs: 2 } })).status).toBe(200);
    const woken = (await poll).json as DesiredStatePoll;
    // Woken by the change, not ended by its 12 s wait.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(woken.version).toBeGreaterThan(version);
    if ('unchanged' in woken) throw new Error('the poll ended unchanged');
    const [workload] = woken.workloads as DesiredModelWorkload[];
    expect(workload?.batching).toEqual({ maxBatchSize: 8, maxQueueDelayMs: 2 });

    // Settings the agent does not run with (the autoscaler's, the edge's cache) leave its state as it is.
    const after = (await agent.desired()).version;
    expect((await patch({ targetConcurrency: 4, deterministic: true })).status).toBe(200);
    expect((await agent.desired()).version).toBe(after);
    // And so does a batching "change" to what it already is.
    expect((await patch({ batching: { maxBatchSize: 8, maxQueueDelayMs: 2 } })).status).toBe(200);
    expect((await agent.desired()).version).toBe(after);
  });
});
