import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployedModel, fakeAgent, testScheduler } from '../../testing/scheduler.js';
import { createTestApp } from '../../testing/test-app.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

// The agent is simulated and listens nowhere: every read of its lines fails, which is the case shown here.
describe('deployment logs through the API', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.cleanup());

  it('names the model version each live replica serves, beside why its lines are missing', async () => {
    const owner = await t.client.register('owner');
    const agent = await fakeAgent(t);
    const dep = await deployedModel(t, owner, { replicas: 1, gpuType: 'cpu' });
    const scheduler = testScheduler(t);
    await scheduler.tick();
    await agent.report('ready');
    await scheduler.tick();
    const res = await t.client.call('GET', `/v1/deployments/${dep.id}/logs`, { token: owner.accessToken });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      lines: [],
      replicas: [
        {
          replica: expect.stringMatching(/^wl_/),
          agentId: agent.agentId,
          phase: 'ready',
          version: 1,
          error: 'its agent cannot be reached',
        },
      ],
    });
  });
});
