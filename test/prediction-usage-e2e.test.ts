import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Client, createClient } from '@libsql/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REAL_MODELS } from '../control-plane/src/onnx/test-models.js';
import { type RunningAgent, startAgentProcess } from './helpers/agent-process.js';
import { edgeFetch, type RunningEdge, startEdgeProcess } from './helpers/edge-process.js';
import { issueBootstrapToken, jsonApi } from './helpers/platform.js';
import { freePort } from './helpers/ports.js';
import { type RunningControlPlane, startControlPlane } from './helpers/processes.js';
import { waitUntil } from './helpers/wait.js';

const SHAPE = [1, 3, 48, 192];
const CALLS = 40;

/**
 * Prediction usage as the serving agent records it: the edge (workerd, as `npm start` runs it) signs each
 * forwarded call with the caller's identity, the real agent journals each 200 before writing it and reports
 * the sealed journal to the real control plane, whose ledger must then hold exactly the 200s clients got,
 * attributed to their key and deployment, through a kill -9 of the agent and its restart.
 */
describe('prediction usage recorded by the serving agent', () => {
  let dir = '';
  let cp: RunningControlPlane | undefined;
  let edge: RunningEdge | undefined;
  let agent: RunningAgent | undefined;
  let db: Client;
  let agentEnv: Record<string, string> = {};
  let token = '';
  let deploymentId = '';
  let key = { id: '', secret: '' };
  let served = 0;
  const input = Array.from({ length: 3 * 48 * 192 }, (_, i) => Math.cos(i) * 0.5);
  const body = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: SHAPE, data: input }] });

  const api = jsonApi(() => cp?.url ?? '');
  const predict = async () => {
    const res = await edgeFetch(`${edge?.url}/v2/models/ocr/infer`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key.secret}`, 'content-type': 'application/json' },
      body,
    });
    await res.arrayBuffer();
    if (res.status === 200) served += 1;
    return res.status;
  };
  /** Prediction calls of the deployment in the ledger, as GET /v1/billing/usage reports them. */
  const billedCalls = async () => {
    const res = await api(token, 'GET', '/v1/billing/usage?groupBy=deployment');
    const lines = res.json.lines as { key: string | null; meter: string; rawQuantity: number }[];
    return lines
      .filter((l) => l.key === deploymentId && l.meter === 'inference_calls')
      .reduce((n, l) => n + l.rawQuantity, 0);
  };
  /** Stored usage by batch source and key: the agent's batches only, each row the right key and deployment. */
  const storedByKey = async () => {
    const rs = await db.execute(
      `select substr(batch_id, 1, 6) as source, key_id, deployment_id, sum(calls) as calls
       from edge_usage group by 1, 2, 3`,
    );
    return rs.rows.map((r) => ({
      source: String(r.source),
      keyId: r.key_id,
      deploymentId: r.deployment_id,
      calls: Number(r.calls),
    }));
  };
  const settled = async (expected: number) => {
    await expect.poll(billedCalls, { timeout: 30_000, interval: 500 }).toBe(expected);
    // And it stays: no report is counted twice after it settles.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await billedCalls()).toBe(expected);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'prediction-usage-'));
    cp = await startControlPlane({
      dataDir: join(dir, 'cp'),
      env: {
        MERIDIAN_AGENT_HEARTBEAT_SECONDS: '1',
        MERIDIAN_AGENT_HEARTBEAT_TIMEOUT_SECONDS: '30',
        MERIDIAN_SCHEDULER_INTERVAL_MS: '250',
        MERIDIAN_LOG_LEVEL: 'warn',
      },
    });
    db = createClient({ url: `file:${join(dir, 'cp', 'control-plane.db')}` });
    agentEnv = {
      MERIDIAN_AGENT_CONTROL_PLANE_URL: cp.url,
      MERIDIAN_AGENT_BOOTSTRAP_TOKEN: await issueBootstrapToken(cp.url, join(dir, 'cp')),
      MERIDIAN_AGENT_DATA_DIR: join(dir, 'agent'),
      MERIDIAN_AGENT_LISTEN_PORT: String(await freePort()),
      MERIDIAN_AGENT_NVIDIA_SMI: join(dir, 'no-nvidia-smi'),
      // Nothing is sealed before the kill: the calls of the first phase are only in the journal then.
      MERIDIAN_AGENT_PREDICTION_USAGE_INTERVAL_MS: '600000',
      PATH: process.env.PATH ?? '/usr/bin:/bin',
    };
    agent = await startAgentProcess(agentEnv);
    edge = await startEdgeProcess({
      MERIDIAN_DATA_DIR: join(dir, 'cp'),
      MERIDIAN_EDGE_STATE_DIR: join(dir, 'edge'),
      MERIDIAN_EDGE_PORT: String(await freePort()),
      MERIDIAN_EDGE_CONTROL_PLANE_URL: cp.url,
      MERIDIAN_EDGE_VAR_ROUTING_REFRESH_SECONDS: '1',
      MERIDIAN_EDGE_VAR_USAGE_FLUSH_SECONDS: '1',
    });
    const reg = await api('', 'POST', '/v1/auth/register', {
      email: `usage-${Date.now()}@example.com`,
      password: 'correct horse battery',
      name: 'usage',
    });
    token = reg.json.accessToken;
    const model = await api(token, 'POST', '/v1/models', { name: 'ocr' });
    const up = await fetch(`${cp.url}/v1/models/${model.json.id}/versions?filename=cls.onnx`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
      body: readFileSync(REAL_MODELS.paddleCls),
    });
    expect(up.status).toBe(201);
    const created = await api(token, 'POST', '/v1/deployments', {
      name: 'ocr',
      model: model.json.id,
      version: 1,
      gpuType: 'cpu',
      minReplicas: 1,
      maxReplicas: 1,
    });
    expect(created.status, created.text).toBe(201);
    deploymentId = created.json.id;
    const made = await api(token, 'POST', '/v1/api-keys', { name: 'k', scopes: ['predict'] });
    key = { id: made.json.id, secret: made.json.secret };
    await waitUntil(
      async () =>
        (
          await edgeFetch(`${edge?.url}/v2/models/ocr/ready`, {
            headers: { authorization: `Bearer ${key.secret}` },
          })
        ).status,
      (status) => status === 200,
      { timeoutMs: 90_000, what: 'the edge routes the deployment' },
    );
  }, 180_000);

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail')
      console.error(
        `--- agent log (tail) ---\n${agent?.logs().slice(-4_000)}\n--- edge log ---\n${edge?.logs().slice(-4_000)}`,
      );
  });

  afterAll(async () => {
    await edge?.stop();
    await agent?.stop();
    await cp?.stop();
    db?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('bills exactly the 200s of calls answered before a kill -9, recovered from the journal at restart', async () => {
    for (let i = 0; i < CALLS; i++) expect(await predict()).toBe(200);
    expect(served).toBe(CALLS);
    // Nothing was sealed yet: the control plane knows of no call.
    expect(await billedCalls()).toBe(0);
    await agent?.kill();
    agent = await startAgentProcess({ ...agentEnv, MERIDIAN_AGENT_PREDICTION_USAGE_INTERVAL_MS: '500' });
    await settled(CALLS);
    expect(await storedByKey()).toEqual([{ source: 'agent:', keyId: key.id, deploymentId, calls: CALLS }]);
    const keys = await api(token, 'GET', '/v1/api-keys');
    const listed = (keys.json.items as { id: string; lastUsedAt: string | null }[]).find(
      (k) => k.id === key.id,
    );
    expect(listed?.lastUsedAt).not.toBeNull();
  }, 120_000);

  it('bills a call retried with its Idempotency-Key once, whether the retry lands in the same report or a later one', async () => {
    const before = await billedCalls();
    const keyed = async (idempotencyKey: string) => {
      const res = await edgeFetch(`${edge?.url}/v2/models/ocr/infer`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${key.secret}`,
          'content-type': 'application/json',
          'idempotency-key': idempotencyKey,
        },
        body,
      });
      await res.arrayBuffer();
      return res.status;
    };
    // The same call twice at once (one journal generation), then again after the agent has reported it.
    expect(await Promise.all([keyed('retry-a'), keyed('retry-a')])).toEqual([200, 200]);
    await settled(before + 1);
    expect(await keyed('retry-a')).toBe(200);
    expect(await keyed('retry-b')).toBe(200);
    // Each key is one distinct call the client received.
    served += 2;
    await settled(before + 2);
  }, 60_000);

  it("rotates the agent's data-plane key without refusing a call, and keeps only the agent's own key on its disk", async () => {
    await waitUntil(predict, (status) => status === 200, {
      timeoutMs: 30_000,
      what: 'the edge serves again',
    });
    const before = served;
    const operatorToken = (await readFile(join(dir, 'cp', 'operator-token'), 'utf8')).trim();
    const rotated = await api(
      operatorToken,
      'POST',
      `/internal/v1/agents/${agent?.agentId}/data-plane-key/rotate`,
    );
    expect(rotated.json.generation).toBe(2);
    // Calls keep flowing while the agent takes the new key (desired state) and the edge learns the generation
    // (its next routing pull): the agent accepts the replaced key meanwhile.
    const statuses: number[] = [];
    const until = Date.now() + 5_000;
    while (Date.now() < until) statuses.push(await predict());
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(agent?.logs()).toContain('data-plane key updated');
    const credential = JSON.parse(await readFile(join(dir, 'agent', 'credential.json'), 'utf8'));
    expect(credential.dataPlaneKey.generation).toBe(2);
    const platformKey = (await readFile(join(dir, 'cp', 'data-plane-signing-key'), 'utf8')).trim();
    expect(JSON.stringify(credential)).not.toContain(platformKey);
    await settled(served);
    expect(served - before).toBe(statuses.length);
  }, 120_000);

  it('loses and doubles nothing when the agent is killed under load and restarted', async () => {
    await waitUntil(predict, (status) => status === 200, {
      timeoutMs: 30_000,
      what: 'the edge serves again',
    });
    const callers = 4;
    let stop = false;
    const statuses: number[] = [];
    const load = Array.from({ length: callers }, async () => {
      while (!stop) statuses.push(await predict().catch(() => 0));
    });
    await new Promise((r) => setTimeout(r, 2_000));
    await agent?.kill();
    // Started again at once, as systemd does: the calls cut off by the kill and those made until it serves
    // again are held at the edge (their replica is down, routing still names it) and answered then.
    agent = await startAgentProcess({ ...agentEnv, MERIDIAN_AGENT_PREDICTION_USAGE_INTERVAL_MS: '500' });
    const servedAtRestart = served;
    await expect.poll(() => served, { timeout: 30_000 }).toBeGreaterThan(servedAtRestart + 2 * callers);
    stop = true;
    await Promise.all(load);
    // Every 200 is billed; beyond them, at most the calls in flight at the kill (journaled, answer lost, and
    // answered again after the restart).
    await expect.poll(billedCalls, { timeout: 30_000, interval: 500 }).toBeGreaterThanOrEqual(served);
    await new Promise((r) => setTimeout(r, 3_000));
    const billed = await billedCalls();
    console.info(
      `kill -9 under load: ${served} 200s received in all, ${billed} calls billed, ${statuses.filter((s) => s !== 200).length} calls failed`,
    );
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(billed).toBeGreaterThanOrEqual(served);
    expect(billed).toBeLessThanOrEqual(served + callers);
    expect((await storedByKey()).every((r) => r.source === 'agent:' && r.keyId === key.id)).toBe(true);
  }, 120_000);
});
