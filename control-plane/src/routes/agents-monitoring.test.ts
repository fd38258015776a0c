import { type AgentDeploymentMetrics, emptyHistogram, observeLatency } from '@meridian/protocol';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueBootstrapToken, sampleRegistration } from '../../testing/agents.js';
import { deployedModel, fakeAgent, testScheduler } from '../../testing/scheduler.js';
import { createTestApp } from '../../testing/test-app.js';
import { deploymentMetrics } from '../db/schema.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

const minuteAgo = () =>
  new Date(Math.floor(Date.now() / 60_000) * 60_000 - 60_000).toISOString().replace('.000Z', 'Z');

describe('monitoring reports from agents', () => {
  let t: TestApp;
  let placedCredential = '';
  let otherCredential = '';
  let depId = '';

  beforeAll(async () => {
    t = await createTestApp();
    const owner = await t.client.register('owner');
    // An agent the deployment is never placed on (drained), and the one the scheduler places it on.
    const token = await issueBootstrapToken(t);
    const reg = await t.client.call('POST', '/agent/v1/register', { body: sampleRegistration(token) });
    otherCredential = reg.json.credential;
    await t.client.call('POST', `/internal/v1/agents/${reg.json.agentId}/drain`, { token: t.operatorToken });
    const placed = await fakeAgent(t);
    placedCredential = placed.credential;
    depId = (await deployedModel(t, owner, { replicas: 1 })).id;
    await testScheduler(t).tick();
    // Telling the agent what to run is what places the deployment on it.
    await placed.desired();
  }, 60_000);
  afterAll(() => t.cleanup());

  const report = (credential: string, reportId: string, computed: number) => {
    const compute = emptyHistogram();
    for (let i = 0; i < computed; i++) observeLatency(compute, 3);
    const metrics: AgentDeploymentMetrics = {
      deploymentId: depId,
      versionId: null,
      minute: minuteAgo(),
      requests: { '2xx': computed },
      queue: emptyHistogram(),
      compute,
    };
    return t.client.call('POST', '/agent/v1/monitoring', {
      token: credential,
      body: { reportId, metrics: [metrics], drift: [] },
    });
  };
  const stored2xx = async () => {
    const rows = await t.db
      .select({ c2xx: deploymentMetrics.c2xx })
      .from(deploymentMetrics)
      .where(
        and(
          eq(deploymentMetrics.deploymentId, depId),
          eq(deploymentMetrics.source, 'agent'),
          eq(deploymentMetrics.resolution, 60),
        ),
      );
    return rows.reduce((sum, r) => sum + r.c2xx, 0);
  };

  it("stores an agent's figures only for deployments placed on it: another agent cannot write a tenant's metrics", async () => {
    const foreign = await report(otherCredential, 'forged-1', 1_000);
    expect(foreign.status).toBeLessThan(300);
    expect(await stored2xx()).toBe(0);
    const own = await report(placedCredential, 'own-1', 7);
    expect(own.status).toBeLessThan(300);
    expect(await stored2xx()).toBe(7);
  });
});
