import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Client, createClient } from '@libsql/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from './helpers/agent-process.js';
import { deploy, uploadModel, waitForStatus } from './helpers/autoscaling.js';
import { writeCanaryModels } from './helpers/canary-models.js';
import { edgeFetch, type RunningEdge, startEdgeProcess } from './helpers/edge-process.js';
import { jsonApi, startRegisteredAgent } from './helpers/platform.js';
import { freePort } from './helpers/ports.js';
import { type RunningService, startPatientControlPlane } from './helpers/stack.js';
import { waitUntil } from './helpers/wait.js';

interface Call {
  startedAt: number;
  status: number;
  version: string | null;
}

/**
 * Canary rollouts end to end: a real control plane and two agents, the edge Worker in workerd, and callers that
 * keep calling while a new version rolls out as a canary. The edge flushes its metrics every second and pulls
 * routing every second; the scheduler ticks every 250 ms.
 */
describe('canary rollouts through the edge', () => {
  let dir = '';
  let cp: RunningService | undefined;
  let edge: RunningEdge | undefined;
  const agents: RunningAgent[] = [];
  let db: Client;
  let token = '';
  let apiKey = '';
  let files: Awaited<ReturnType<typeof writeCanaryModels>>;
  const api = jsonApi(() => cp?.url ?? '');

  const infer = async (name: string): Promise<Call> => {
    const startedAt = Date.now();
    const res = await edgeFetch(`${edge?.url}/v2/models/${name}/infer`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [0.1, 0.2, 0.3, 0.4] }],
      }),
    });
    const text = await res.text();
    let version: string | null = null;
    try {
      version = (JSON.parse(text) as { model_version?: string }).model_version ?? null;
    } catch {}
    return { startedAt, status: res.status, version };
  };
  /** `callers` loops calling `name` until stopped, each pausing `pauseMs` between calls. */
  const keepCalling = (name: string, callers: number, pauseMs: number) => {
    const calls: Call[] = [];
    let running = true;
    const loops = Array.from({ length: callers }, async () => {
      while (running) {
        calls.push(await infer(name));
        await new Promise((r) => setTimeout(r, pauseMs));
      }
    });
    return {
      calls,
      stop: async () => {
        running = false;
        await Promise.all(loops);
      },
    };
  };
  const deployment = async (id: string) => (await api(token, 'GET', `/v1/deployments/${id}`)).json;
  const events = async (id: string) =>
    ((await api(token, 'GET', `/v1/deployments/${id}/events?limit=200`)).json.items ?? []) as {
      type: string;
      message: string;
    }[];
  const uploadVersion = async (modelId: string, file: string) => {
    const up = await fetch(`${cp?.url}/v1/models/${modelId}/versions?filename=v.onnx`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
      body: await readFile(file),
    });
    if (up.status !== 201) throw new Error(`upload: ${up.status} ${await up.text()}`);
  };
  const servingRevisions = async (id: string) => {
    const rs = await db.execute({
      sql: "select distinct revision from workloads where deployment_id = ? and phase = 'ready' and retire_at is null",
      args: [id],
    });
    return rs.rows.map((r) => Number(r.revision)).sort();
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'canary-e2e-'));
    files = await writeCanaryModels(dir);
    cp = await startPatientControlPlane(join(dir, 'cp'), {
      MERIDIAN_AGENT_HEARTBEAT_SECONDS: '1',
      MERIDIAN_AGENT_HEARTBEAT_TIMEOUT_SECONDS: '20',
      MERIDIAN_SCHEDULER_INTERVAL_MS: '250',
      // Longer than the edge's routing refresh: a replaced replica serves until every isolate stopped using it.
      MERIDIAN_ROLLOUT_RETIRE_SECONDS: '3',
    });
    db = createClient({ url: `file:${join(dir, 'cp', 'control-plane.db')}` });
    // Two hosts, as in production: the canary's replica and the current ones may land on either.
    for (const name of ['agent-a', 'agent-b'])
      agents.push(
        await startRegisteredAgent(cp.url, join(dir, 'cp'), join(dir, name), {
          MERIDIAN_AGENT_USAGE_INTERVAL_SECONDS: '1',
        }),
      );
    edge = await startEdgeProcess({
      MERIDIAN_DATA_DIR: join(dir, 'cp'),
      MERIDIAN_EDGE_STATE_DIR: join(dir, 'edge'),
      MERIDIAN_EDGE_PORT: String(await freePort()),
      MERIDIAN_EDGE_CONTROL_PLANE_URL: cp.url,
      MERIDIAN_EDGE_VAR_ROUTING_REFRESH_SECONDS: '1',
      MERIDIAN_EDGE_VAR_USAGE_FLUSH_SECONDS: '1',
      MERIDIAN_EDGE_VAR_METRICS_FLUSH_SECONDS: '1',
    });
    const owner = await api('', 'POST', '/v1/auth/register', {
      email: `canary-${Date.now()}@example.com`,
      password: 'correct horse battery',
      name: 'canary',
    });
    token = owner.json.accessToken;
    const plan = await api(token, 'PUT', '/v1/billing/plan', { plan: 'pro' });
    if (plan.status !== 200) throw new Error(`pro plan: ${plan.status} ${plan.text}`);
    apiKey = (await api(token, 'POST', '/v1/api-keys', { name: 'k', scopes: ['predict'] })).json.secret;
  }, 180_000);

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') {
      console.error(`--- control plane (tail) ---\n${cp?.logs().slice(-4_000)}`);
      for (const a of agents) console.error(`--- agent ${a.agentId} (tail) ---\n${a.logs().slice(-3_000)}`);
      console.error(`--- edge (tail) ---\n${edge?.logs().slice(-3_000)}`);
    }
  });

  afterAll(async () => {
    await edge?.stop();
    for (const a of agents) await a.stop();
    await cp?.stop();
    db?.close();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('rolls back by itself a canary whose model fails every call; failures stay within share × calls + 5', async () => {
    const modelId = await uploadModel(api, cp?.url ?? '', token, 'bad-canary', files.good1);
    await uploadVersion(modelId, files.failing);
    const id = await deploy(api, token, 'bad-canary', modelId, { minReplicas: 1, maxReplicas: 1 });
    await waitForStatus(api, token, id, 'ready');
    expect((await infer('bad-canary')).status).toBe(200);

    const load = keepCalling('bad-canary', 4, 20);
    let rollout: Record<string, unknown> & { stepStartedAt: string; finishedAt: string };
    try {
      const share = 0.1;
      const patched = await api(token, 'PATCH', `/v1/deployments/${id}`, {
        version: 2,
        canary: { share, windowSeconds: 120, minCalls: 20, maxErrorRateIncrease: 0.05 },
      });
      expect(patched.status).toBe(200);
      const done = await waitUntil(
        () => deployment(id),
        (d) => d.rollout?.state === 'rolled_back',
        { timeoutMs: 90_000, intervalMs: 100, what: 'the canary rolled back' },
      );
      rollout = done.rollout;
      // Calls go on until the edge has surely pulled routing without the canary, then a while on v1 alone.
      await new Promise((r) => setTimeout(r, 4_000));
    } finally {
      await load.stop();
    }
    // The window: from routing first giving the canary its share to the rollback reaching the edge, which pulls
    // routing every ROUTING_REFRESH_SECONDS (1 s here) and the scheduler publishes in the very tick it decides.
    const from = Date.parse(rollout.stepStartedAt);
    const decided = Date.parse(rollout.finishedAt);
    const to = decided + 1_000;
    const failed = load.calls.filter((c) => c.status >= 500);
    const inWindow = load.calls.filter((c) => c.startedAt >= from && c.startedAt <= to).length;
    const toDecision = load.calls.filter((c) => c.startedAt >= from && c.startedAt <= decided).length;
    const bound = 0.1 * inWindow + 5;
    console.info(
      `failing canary: ${failed.length} failed calls of ${load.calls.length}; rolled back ` +
        `${((decided - from) / 1000).toFixed(1)} s after its first share, ${toDecision} calls until the decision, ` +
        `${inWindow} until it reached the edge; bound 0.1 × ${inWindow} + 5 = ${bound.toFixed(1)}`,
    );
    // Judged within seconds of the bad data arriving (the edge flushes every second), not at the window's end.
    expect(decided - from).toBeLessThan(15_000);
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.length).toBeLessThanOrEqual(bound);
    // Nothing but 200 and the canary's 500s: no caller saw a 4xx or the edge's 503.
    expect(new Set(load.calls.map((c) => c.status))).toEqual(new Set([200, 500]));
    // After the rollback reached the edge, every call was answered by v1.
    const settled = load.calls.filter((c) => c.startedAt > to + 1_500);
    expect(settled.length).toBeGreaterThan(0);
    expect(settled.every((c) => c.status === 200)).toBe(true);

    const d = await deployment(id);
    expect(d).toMatchObject({
      revision: 1,
      version: { version: 1 },
      rollout: { state: 'rolled_back', share: 0 },
    });
    expect(d.rollout.figures.canary).toMatchObject({ errorRate: 1 });
    expect(d.rollout.figures.base).toMatchObject({ errors: 0, errorRate: 0 });
    const event = (await events(id)).find((e) => e.type === 'canary_rolled_back');
    console.info(`event: ${event?.message}`);
    expect(event?.message).toMatch(
      /^canary v2 \(revision 2\) rolled back: 5xx 100% vs 0% over \d+ calls \(old revision: \d+\), margin 5%; every call goes to v1 \(revision 1\) again$/,
    );
    // The canary's replica leaves: only revision 1 serves.
    await waitUntil(
      () => servingRevisions(id),
      (r) => r.length === 1 && r[0] === 1,
      { timeoutMs: 20_000, what: 'only revision 1 serving' },
    );
  }, 180_000);

  it('promotes a good canary step by step, 20% → 50% → 100%, with no failed call', async () => {
    const modelId = await uploadModel(api, cp?.url ?? '', token, 'good-canary', files.good1);
    await uploadVersion(modelId, files.good2);
    const id = await deploy(api, token, 'good-canary', modelId, { minReplicas: 1, maxReplicas: 1 });
    await waitForStatus(api, token, id, 'ready');

    const load = keepCalling('good-canary', 4, 20);
    const stepsSeen: string[] = [];
    try {
      const patched = await api(token, 'PATCH', `/v1/deployments/${id}`, {
        version: 2,
        canary: { steps: [0.2, 0.5, 1], windowSeconds: 3, minCalls: 10 },
      });
      expect(patched.status).toBe(200);
      await waitUntil(
        async () => {
          const d = await deployment(id);
          const at = `${d.rollout?.state} ${d.rollout?.share}`;
          if (stepsSeen.at(-1) !== at) stepsSeen.push(at);
          return d;
        },
        (d) => d.rollout?.state === 'promoted',
        { timeoutMs: 90_000, intervalMs: 100, what: 'the canary promoted' },
      );
      await waitUntil(
        () => servingRevisions(id),
        (r) => r.length === 1 && r[0] === 2,
        { timeoutMs: 30_000, what: 'only revision 2 serving' },
      );
      await new Promise((r) => setTimeout(r, 2_000));
    } finally {
      await load.stop();
    }
    const kinds = (await events(id)).filter((e) => e.type.startsWith('canary_'));
    console.info(`good canary: ${load.calls.length} calls; states seen ${stepsSeen.join(', ')}`);
    for (const e of kinds) console.info(`  ${e.type}: ${e.message}`);
    expect(kinds.map((e) => e.type)).toEqual([
      'canary_requested',
      'canary_started',
      'canary_step',
      'canary_promoted',
    ]);
    expect(kinds[2]?.message).toMatch(/passed 20%: 5xx 0% vs 0% over \d+ calls .*; now takes 50%$/);
    expect(stepsSeen).toContain('canary 0.2');
    expect(stepsSeen).toContain('canary 0.5');
    expect(load.calls.filter((c) => c.status !== 200)).toEqual([]);
    expect(await deployment(id)).toMatchObject({ revision: 2, version: { version: 2 }, status: 'ready' });
  }, 180_000);
});
