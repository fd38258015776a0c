import { emptyHistogram, newId, observeLatency } from '@meridian/protocol';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerTestAgent } from '../../../testing/agents.js';
import { newModel } from '../../../testing/models.js';
import { createTestApp, type Session } from '../../../testing/test-app.js';
import {
  type AlertMetric,
  agents,
  type alertRules,
  deploymentMetrics,
  deployments,
  workloads,
} from '../../db/schema.js';
import { calendarMonth } from '../billing/period.js';
import { setOrgStanding } from '../orgs/standing.js';
import { encodeCounts } from './histogram-codec.js';
import { measureRule } from './measure.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

/** A fixed minute long past, so windows and the billing month are known ones. */
const NOW = Date.UTC(2026, 5, 15, 12, 30);
const NOW_S = NOW / 1000;

describe('measureRule', () => {
  let t: TestApp;

  beforeAll(async () => {
    // Registered orgs are on Enterprise (no call quota) unless a test moves them.
    t = await createTestApp();
  });
  afterAll(() => t.cleanup());

  const rule = (
    orgId: string,
    metric: AlertMetric,
    deploymentId: string | null = null,
  ): typeof alertRules.$inferSelect => ({
    id: newId('alertRule'),
    orgId,
    name: metric,
    metric,
    deploymentId,
    windowSeconds: 300,
    threshold: 0,
    forSeconds: 0,
    channelIds: [],
    enabled: true,
    state: 'ok',
    activeSince: null,
    lastValue: null,
    lastEvaluatedAt: null,
    createdAt: new Date(NOW),
  });

  /** A deployment row of the owner's org, as the API writes it (its model is real: the row references it). */
  const deployment = async (owner: Session, desiredReplicas = 1) => {
    const id = newId('deployment');
    await t.db.insert(deployments).values({
      id,
      orgId: owner.orgId,
      name: `dep-${id.slice(-6)}`,
      modelId: await newModel(t.app, owner.accessToken),
      runtime: 'onnx',
      gpuType: 'cpu',
      gpuCount: 0,
      minReplicas: desiredReplicas === 0 ? 0 : 1,
      maxReplicas: 3,
      desiredReplicas,
      createdBy: owner.userId,
      updatedAt: new Date(),
    });
    return id;
  };
  const replica = (
    orgId: string,
    deploymentId: string,
    agentId: string,
    extra: Partial<typeof workloads.$inferInsert> = {},
  ) =>
    t.db.insert(workloads).values({
      id: newId('workload'),
      kind: 'model',
      orgId,
      deploymentId,
      agentId,
      gpuType: 'cpu',
      gpuCount: 0,
      phase: 'ready',
      ...extra,
    });
  /** One edge minute row whose `calls` calls all took `ms`, encoded as the ingester stores it. */
  const edgeMinute = (orgId: string, deploymentId: string, at: number, calls: number, ms: number) => {
    const h = emptyHistogram();
    for (let i = 0; i < calls; i++) observeLatency(h, ms);
    return t.db.insert(deploymentMetrics).values({
      deploymentId,
      versionId: 'ver_1',
      source: 'edge',
      resolution: 60,
      at,
      orgId,
      c2xx: calls - 2,
      c5xx: 2,
      latency: encodeCounts(h),
      latencySum: h.sumMs,
    });
  };

  it('takes p95 latency over the minutes in the window, of the org only, and of one deployment when scoped', async () => {
    const [org, other] = ['org_p95_a', 'org_p95_b'];
    const [dep1, dep2, theirs] = [newId('deployment'), newId('deployment'), newId('deployment')];
    await edgeMinute(org, dep1, NOW_S - 60, 10, 80); // bucket 50–100 ms
    await edgeMinute(org, dep2, NOW_S - 120, 10, 400); // bucket 250–500 ms
    // Either of these, if counted, would move p95 into the 10–30 s or 30–60 s bucket.
    await edgeMinute(org, dep1, NOW_S - 600, 100, 20_000); // older than the 300 s window
    await edgeMinute(other, theirs, NOW_S - 60, 100, 50_000); // same minute, another org

    // 20 calls, rank 0.95 × 20 = 19: the 9th of the 10 in 250–500, interpolated: 250 + 250 × 9/10.
    expect(await measureRule(t.db, rule(org, 'p95_latency_ms'), NOW)).toBe(475);
    // dep1 alone: rank 9.5 of 10 in 50–100: 50 + 50 × 9.5/10.
    expect(await measureRule(t.db, rule(org, 'p95_latency_ms', dep1), NOW)).toBe(97.5);
    // The same rows give an error rate (2 + 2 of 20), and nothing in the window gives null, not 0.
    expect(await measureRule(t.db, rule(org, 'error_rate'), NOW)).toBe(0.2);
    expect(await measureRule(t.db, rule(org, 'error_rate'), NOW + 3_600_000)).toBeNull();
  });

  it('counts ready replicas of the worst deployment, leaving out retiring and loading ones', async () => {
    const [owner, other, empty] = [
      await t.client.register('ready'),
      await t.client.register('other'),
      await t.client.register('empty'),
    ];
    const { agentId } = await registerTestAgent(t);
    const [dep1, dep2, theirs] = [await deployment(owner), await deployment(owner), await deployment(other)];
    // dep1: two serving; one replaced (retired a minute ago) and one still loading do not serve.
    await replica(owner.orgId, dep1, agentId);
    await replica(owner.orgId, dep1, agentId);
    await replica(owner.orgId, dep1, agentId, { retireAt: new Date(Date.now() - 60_000) });
    await replica(owner.orgId, dep1, agentId, { phase: 'loading' });
    for (let i = 0; i < 3; i++) await replica(owner.orgId, dep2, agentId);
    // Another org's deployment with no ready replica would make the minimum 0 if it counted.
    await replica(other.orgId, theirs, agentId, { phase: 'pulling' });

    expect(await measureRule(t.db, rule(owner.orgId, 'ready_replicas'), Date.now())).toBe(2);
    expect(await measureRule(t.db, rule(owner.orgId, 'ready_replicas', dep2), Date.now())).toBe(3);
    expect(await measureRule(t.db, rule(empty.orgId, 'ready_replicas'), Date.now())).toBeNull();
  });

  it('leaves a deployment scaled to zero on purpose out of ready replicas: idle is not down', async () => {
    const owner = await t.client.register('idle');
    const { agentId } = await registerTestAgent(t);
    const [serving, idle] = [await deployment(owner), await deployment(owner, 0)];
    await replica(owner.orgId, serving, agentId);
    // The idle one has no replica; counted, it would make the org's minimum 0 and fire `< 1` all night.
    expect(await measureRule(t.db, rule(owner.orgId, 'ready_replicas'), Date.now())).toBe(1);
    expect(await measureRule(t.db, rule(owner.orgId, 'ready_replicas', idle), Date.now())).toBeNull();
    // Woken (a call raised what it wants) and still without a ready replica: judged, and 0.
    await t.db.update(deployments).set({ desiredReplicas: 1 }).where(eq(deployments.id, idle));
    expect(await measureRule(t.db, rule(owner.orgId, 'ready_replicas', idle), Date.now())).toBe(0);
  });

  it('counts the org’s workloads on lost agents only', async () => {
    const [owner, other] = [await t.client.register('lost'), await t.client.register('other')];
    const [lost, online] = [await registerTestAgent(t), await registerTestAgent(t)];
    // The scheduler writes this when an agent's heartbeats stop, before it moves the agent's replicas.
    await t.db.update(agents).set({ status: 'lost' }).where(eq(agents.id, lost.agentId));
    const [dep1, dep2, theirs] = [await deployment(owner), await deployment(owner), await deployment(other)];
    await replica(owner.orgId, dep1, lost.agentId);
    await replica(owner.orgId, dep2, lost.agentId, { phase: 'loading' });
    await replica(owner.orgId, dep1, online.agentId);
    await replica(other.orgId, theirs, lost.agentId);

    expect(await measureRule(t.db, rule(owner.orgId, 'lost_agent'), Date.now())).toBe(2);
    expect(await measureRule(t.db, rule(owner.orgId, 'lost_agent', dep1), Date.now())).toBe(1);
    expect(await measureRule(t.db, rule(other.orgId, 'lost_agent'), Date.now())).toBe(1);
  });

  it('gives calls this month over the plan’s quota, and null on a plan without one', async () => {
    const [pro, enterprise] = [await t.client.register('pro'), await t.client.register('ent')];
    await setOrgStanding(t.db, pro.orgId, { plan: 'pro' });
    const month = calendarMonth(NOW);
    // Calls reach the ledger as the edge reports them; last month's do not count against this one.
    const calls = (orgId: string, minute: number, n: number) => ({
      orgId,
      keyId: null,
      userId: pro.userId,
      deploymentId: 'dep_01jcx0000000000000000000ab',
      minute: new Date(minute).toISOString(),
      calls: n,
      bytesIn: 0,
      bytesOut: 0,
    });
    const usage = await t.client.call('POST', '/internal/v1/usage', {
      token: t.edgeServiceToken,
      body: {
        batchId: 'edge-measure:1',
        records: [
          calls(pro.orgId, month.start + 60_000, 12_000),
          calls(pro.orgId, NOW - 60_000, 345),
          calls(pro.orgId, month.start - 3_600_000, 50_000),
          calls(enterprise.orgId, NOW - 60_000, 5_000),
        ],
      },
    });
    expect(usage.status, usage.text).toBe(200);

    // Pro allows 100,000 calls a month: 12,345 of them used.
    expect(await measureRule(t.db, rule(pro.orgId, 'quota_used'), NOW)).toBe(0.12345);
    expect(await measureRule(t.db, rule(enterprise.orgId, 'quota_used'), NOW)).toBeNull();
  });
});
