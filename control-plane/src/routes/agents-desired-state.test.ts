import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerTestAgent } from '../../testing/agents.js';
import { createTestApp } from '../../testing/test-app.js';
import { markDesiredStateChanged } from '../services/agents/desired-state.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

describe('GET /agent/v1/desired-state, the long poll', () => {
  let t: TestApp;
  let agent: { agentId: string; credential: string };
  beforeAll(async () => {
    t = await createTestApp();
    agent = await registerTestAgent(t);
  });
  afterAll(() => t.cleanup());

  const poll = (query: string) =>
    t.client.call('GET', `/agent/v1/desired-state${query}`, { token: agent.credential });
  const timed = async (query: string) => {
    const started = performance.now();
    const res = await poll(query);
    return { res, ms: performance.now() - started };
  };

  it('answers at once with the full state when the agent has none or an older version', async () => {
    for (const query of ['', '?since=0', '?since=0&wait=30']) {
      const { res, ms } = await timed(query);
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ version: 1, workloads: [] });
      expect(ms).toBeLessThan(1000);
    }
  });

  it('holds a poll at the current version for the wait, then answers unchanged', async () => {
    const { res, ms } = await timed('?since=1&wait=1');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ unchanged: true, version: 1 });
    expect(ms).toBeGreaterThanOrEqual(950);
    expect(ms).toBeLessThan(2500);
    expect(t.desiredStateChanges.waiting(agent.agentId)).toBe(0);
  });

  it('answers a waiting poll promptly when its desired state changes', async () => {
    const started = performance.now();
    const pending = poll('?since=1&wait=30');
    await expect.poll(() => t.desiredStateChanges.waiting(agent.agentId)).toBe(1);
    await markDesiredStateChanged(t.db, t.desiredStateChanges, agent.agentId);
    const res = await pending;
    expect(res.json).toMatchObject({ version: 2, workloads: [] });
    expect(performance.now() - started).toBeLessThan(3000);
  });

  it('keeps waiting when woken without a new version', async () => {
    const pending = timed('?since=2&wait=1');
    await expect.poll(() => t.desiredStateChanges.waiting(agent.agentId)).toBe(1);
    t.desiredStateChanges.notify(agent.agentId);
    const { res, ms } = await pending;
    expect(res.json).toEqual({ unchanged: true, version: 2 });
    expect(ms).toBeGreaterThanOrEqual(950);
  });

  it('answers at once when the agent holds a version the control plane never gave (a restored database)', async () => {
    const { res, ms } = await timed('?since=99&wait=30');
    expect(res.json).toMatchObject({ version: 2, workloads: [] });
    expect(ms).toBeLessThan(1000);
  });

  it('answers 400 to a wait over 30 s or a version that is not a number', async () => {
    for (const query of ['?wait=31', '?wait=-1', '?since=abc', '?since=1.5']) {
      const res = await poll(query);
      expect(res.status, query).toBe(400);
      expect(res.json.error.code).toBe('validation_failed');
    }
  });
});
