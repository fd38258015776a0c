import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerTestAgent, sampleHeartbeat } from '../../testing/agents.js';
import { createTestApp } from '../../testing/test-app.js';
import { agents, agentUsageEntries, agentUsageReports, agentWorkloadReports } from '../db/schema.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

const usageEntry = (workloadId: string, seconds: number) => ({
  workloadId,
  gpuType: 't4',
  seconds,
  from: new Date(Date.now() - 120_000).toISOString(),
  to: new Date(Date.now() - 60_000).toISOString(),
});

describe('the agent protocol after registration', () => {
  let t: TestApp;
  let agent: { agentId: string; credential: string };
  beforeAll(async () => {
    t = await createTestApp();
    agent = await registerTestAgent(t);
  });
  afterAll(() => t.cleanup());

  const as = (method: string, path: string, body?: unknown, token = agent.credential) =>
    t.client.call(method, path, { token, ...(body === undefined ? {} : { body }) });

  it('refuses heartbeat, desired state and usage without the agent credential', async () => {
    const owner = await t.client.register('owner');
    const other = await registerTestAgent(t);
    const calls: [string, string, unknown][] = [
      ['POST', '/agent/v1/heartbeat', sampleHeartbeat()],
      ['GET', '/agent/v1/desired-state', undefined],
      ['POST', '/agent/v1/usage', { seq: 1, entries: [] }],
    ];
    const wrong = ['', 'mac_wrong', `${agent.credential}x`, t.operatorToken, owner.accessToken];
    for (const [method, path, body] of calls) {
      for (const token of wrong) {
        const res = await t.client.call(method, path, { ...(token ? { token } : {}), body });
        expect(res.status, `${path} ${token.slice(0, 8)}`).toBe(401);
        expect(res.json.error.code).toBe('unauthenticated');
      }
    }
    // The other agent's credential is good for that agent only: its call leaves ours untouched.
    expect((await as('POST', '/agent/v1/usage', { seq: 1, entries: [] }, other.credential)).status).toBe(200);
    const [ours] = await t.db.select().from(agents).where(eq(agents.id, agent.agentId));
    expect(ours?.lastUsageSeq).toBe(0);
  });

  it('records a heartbeat: last_heartbeat_at, inventory and the workload phases', async () => {
    const [before] = await t.db.select().from(agents).where(eq(agents.id, agent.agentId));
    await new Promise((resolve) => setTimeout(resolve, 5));
    const res = await as('POST', '/agent/v1/heartbeat', sampleHeartbeat(4096));
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: 'online', heartbeatIntervalSeconds: 15, desiredStateVersion: 1 });
    const [after] = await t.db.select().from(agents).where(eq(agents.id, agent.agentId));
    expect(after?.lastHeartbeatAt.getTime()).toBeGreaterThan(before?.lastHeartbeatAt.getTime() ?? Infinity);
    expect(after?.inventory.gpus[0]?.memoryUsedMiB).toBe(4096);
    const workloads = await t.db
      .select()
      .from(agentWorkloadReports)
      .where(eq(agentWorkloadReports.agentId, agent.agentId));
    expect(workloads).toEqual([
      expect.objectContaining({ workloadId: 'wl-1', kind: 'model', phase: 'ready' }),
    ]);

    // The next heartbeat's workloads replace these: one it no longer reports is gone.
    const failed = { workloadId: 'wl-2', kind: 'notebook', phase: 'failed', reason: 'image pull failed' };
    const next = await as('POST', '/agent/v1/heartbeat', { ...sampleHeartbeat(), workloads: [failed] });
    expect(next.status).toBe(200);
    const now = await t.db
      .select()
      .from(agentWorkloadReports)
      .where(eq(agentWorkloadReports.agentId, agent.agentId));
    expect(now).toEqual([
      expect.objectContaining({ workloadId: 'wl-2', phase: 'failed', reason: 'image pull failed' }),
    ]);
  });

  it('routes to the data-plane address an agent heartbeats from, once it restarted on another', async () => {
    const addressOf = async () =>
      (await t.db.select().from(agents).where(eq(agents.id, agent.agentId)))[0]?.dataPlaneUrl;
    const registeredAt = await addressOf();
    // An older agent's heartbeat names none: the address it registered with stays.
    expect((await as('POST', '/agent/v1/heartbeat', sampleHeartbeat())).status).toBe(200);
    expect(await addressOf()).toBe(registeredAt);

    const moved = 'http://10.0.0.7:19090';
    const res = await as('POST', '/agent/v1/heartbeat', { ...sampleHeartbeat(), dataPlaneUrl: moved });
    expect(res.status).toBe(200);
    // The edge's routing and the log reader take the agent's address from this record.
    expect(await addressOf()).toBe(moved);

    for (const bad of ['ftp://10.0.0.7/', 'not a url', `http://${'a'.repeat(2050)}.example`]) {
      const refused = await as('POST', '/agent/v1/heartbeat', { ...sampleHeartbeat(), dataPlaneUrl: bad });
      expect(refused.status, bad).toBe(400);
    }
    expect(await addressOf()).toBe(moved);
  });

  it('keeps a draining agent draining and brings a lost one back online', async () => {
    for (const [status, expected] of [
      ['draining', 'draining'],
      ['lost', 'online'],
    ] as const) {
      await t.db.update(agents).set({ status }).where(eq(agents.id, agent.agentId));
      const res = await as('POST', '/agent/v1/heartbeat', sampleHeartbeat());
      expect(res.json.status).toBe(expected);
    }
  });

  it('answers 400 to malformed heartbeats and usage reports', async () => {
    const hb = sampleHeartbeat();
    const bodies: [string, unknown][] = [
      ['/agent/v1/heartbeat', { ...hb, workloads: [...hb.workloads, ...hb.workloads] }],
      ['/agent/v1/heartbeat', { ...hb, workloads: [{ workloadId: 'x', kind: 'model', phase: 'running' }] }],
      [
        '/agent/v1/heartbeat',
        { inventory: { ...hb.inventory, cpu: { cores: 0, memoryMiB: 1 } }, workloads: [] },
      ],
      ['/agent/v1/usage', { seq: 0, entries: [] }],
      ['/agent/v1/usage', { seq: 1.5, entries: [] }],
      ['/agent/v1/usage', { seq: 9, entries: [{ ...usageEntry('wl-1', 1), gpuType: 'a100' }] }],
      ['/agent/v1/usage', { seq: 9, entries: [{ ...usageEntry('wl-1', 1), to: '2000-01-01T00:00:00Z' }] }],
      ['/agent/v1/usage', { seq: 9, entries: [usageEntry('wl-1', 3600)] }],
    ];
    for (const [path, body] of bodies) {
      const res = await as('POST', path, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error.code).toBe('validation_failed');
    }
  });

  it('counts a usage report once: a repeated seq and an older one are acknowledged and ignored', async () => {
    const report = (seq: number, seconds: number) => ({
      seq,
      entries: [usageEntry('wl-1', seconds), { ...usageEntry('wl-2', seconds), gpuType: 'cpu' }],
    });
    const stored = async () => ({
      reports: await t.db
        .select()
        .from(agentUsageReports)
        .where(eq(agentUsageReports.agentId, agent.agentId)),
      entries: await t.db
        .select()
        .from(agentUsageEntries)
        .where(eq(agentUsageEntries.agentId, agent.agentId)),
    });

    expect((await as('POST', '/agent/v1/usage', report(5, 60))).json).toEqual({
      seq: 5,
      accepted: true,
      lastSeq: 5,
    });
    expect((await as('POST', '/agent/v1/usage', report(5, 60))).json).toEqual({
      seq: 5,
      accepted: false,
      lastSeq: 5,
    });
    expect((await as('POST', '/agent/v1/usage', report(3, 60))).json).toEqual({
      seq: 3,
      accepted: false,
      lastSeq: 5,
    });
    let now = await stored();
    expect(now.reports.map((r) => r.seq)).toEqual([5]);
    expect(now.entries.map((e) => [e.seq, e.idx, e.workloadId, e.gpuType, e.seconds])).toEqual([
      [5, 0, 'wl-1', 't4', 60],
      [5, 1, 'wl-2', 'cpu', 60],
    ]);

    // Retries racing each other still count once.
    const raced = await Promise.all([7, 7, 7].map((seq) => as('POST', '/agent/v1/usage', report(seq, 30))));
    expect(raced.map((r) => r.json.accepted).sort()).toEqual([false, false, true]);
    now = await stored();
    expect(now.reports.map((r) => r.seq)).toEqual([5, 7]);
    expect(now.entries.reduce((sum, e) => sum + e.seconds, 0)).toBe(180);
  });
});
