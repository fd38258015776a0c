import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Client, createClient } from '@libsql/client';
import * as ort from 'onnxruntime-node';
import { WebSocket } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REAL_MODELS } from '../control-plane/src/onnx/test-models.js';
import type { RunningAgent } from './helpers/agent-process.js';
import { edgeFetch, type RunningEdge, startEdgeProcess } from './helpers/edge-process.js';
import { deployClassifier, jsonApi, startRegisteredAgent } from './helpers/platform.js';
import { freePort } from './helpers/ports.js';
import { type RunningControlPlane, startControlPlane } from './helpers/processes.js';
import { waitUntil } from './helpers/wait.js';

const SHAPE = [1, 3, 48, 192];
// Small cache bounds so revocation can be watched in seconds: 1 s in the isolate + 2 s fresh in KV.
const KEY_CACHE_SECONDS = 1;
const KEY_KV_FRESH_SECONDS = 2;

type Session = { token: string; orgId: string };

/**
 * The edge Worker in workerd (scripts/edge.mjs, as `npm start` runs it) in front of a real control plane and
 * two real agents serving the PaddleOCR classifier, and a real Jupyter server for the notebook proxy.
 */
describe('the edge in front of the platform', () => {
  let dir = '';
  let cp: RunningControlPlane | undefined;
  let edge: RunningEdge | undefined;
  const agents: RunningAgent[] = [];
  let db: Client;
  let owner: Session;
  let apiKey = '';
  let apiKeyId = '';
  let session: ort.InferenceSession;
  const input = Float32Array.from({ length: 3 * 48 * 192 }, (_, i) => Math.cos(i) * 0.5);
  const body = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: SHAPE, data: [...input] }] });
  let successes = 0;
  let deploymentId = '';

  const cpUrl = () => cp?.url ?? '';
  const api = jsonApi(cpUrl);
  const register = async (name: string): Promise<Session> => {
    const res = await api('', 'POST', '/v1/auth/register', {
      email: `${name}-${Date.now()}@example.com`,
      password: 'correct horse battery',
      name,
    });
    return { token: res.json.accessToken, orgId: res.json.org.id };
  };
  const predict = async (key: string, name = 'ocr') => {
    const res = await edgeFetch(`${edge?.url}/v2/models/${name}/infer`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body,
    });
    if (res.status === 200 && key === apiKey) successes += 1;
    return res;
  };
  const deploy = (s: Session, name: string, replicas: number) =>
    deployClassifier(api, cpUrl(), s.token, name, replicas);
  const createKey = async (s: Session, scopes = ['predict']) => {
    const res = await api(s.token, 'POST', '/v1/api-keys', { name: 'k', scopes });
    expect(res.status, res.text).toBe(201);
    return { secret: res.json.secret as string, id: res.json.id as string };
  };
  const storedCalls = async (keyId: string) => {
    const rs = await db.execute({
      sql: 'select coalesce(sum(calls), 0) as n from edge_usage where key_id = ?',
      args: [keyId],
    });
    return Number(rs.rows[0]?.n);
  };

  async function startCp(port?: number) {
    cp = await startControlPlane({
      dataDir: join(dir, 'cp'),
      ...(port === undefined ? {} : { port }),
      env: {
        MERIDIAN_AGENT_HEARTBEAT_SECONDS: '1',
        MERIDIAN_AGENT_HEARTBEAT_TIMEOUT_SECONDS: '4',
        MERIDIAN_SCHEDULER_INTERVAL_MS: '250',
        MERIDIAN_LOG_LEVEL: 'warn',
      },
    });
  }
  async function startAgent(name: string) {
    agents.push(await startRegisteredAgent(cpUrl(), join(dir, 'cp'), join(dir, name)));
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edge-e2e-'));
    await startCp();
    db = createClient({ url: `file:${join(dir, 'cp', 'control-plane.db')}` });
    await startAgent('agent-a');
    await startAgent('agent-b');
    edge = await startEdgeProcess({
      MERIDIAN_DATA_DIR: join(dir, 'cp'),
      MERIDIAN_EDGE_STATE_DIR: join(dir, 'edge'),
      MERIDIAN_EDGE_PORT: String(await freePort()),
      MERIDIAN_EDGE_CONTROL_PLANE_URL: cpUrl(),
      MERIDIAN_EDGE_VAR_KEY_CACHE_SECONDS: String(KEY_CACHE_SECONDS),
      MERIDIAN_EDGE_VAR_KEY_KV_FRESH_SECONDS: String(KEY_KV_FRESH_SECONDS),
      MERIDIAN_EDGE_VAR_ROUTING_REFRESH_SECONDS: '1',
      MERIDIAN_EDGE_VAR_USAGE_FLUSH_SECONDS: '1',
    });
    owner = await register('owner');
    deploymentId = await deploy(owner, 'ocr', 2);
    ({ secret: apiKey, id: apiKeyId } = await createKey(owner));
    session = await ort.InferenceSession.create(REAL_MODELS.paddleCls);
  }, 180_000);

  // CI shows only the test's output: a failure brings the edge's own account of it.
  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail')
      console.error(`--- edge log (tail) ---\n${edge?.logs().slice(-6_000)}`);
  });

  afterAll(async () => {
    await edge?.stop();
    for (const agent of agents) await agent.stop();
    await cp?.stop();
    db?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers an OIP infer call with what a direct onnxruntime session computes', async () => {
    const res = await predict(apiKey);
    expect(res.status, await res.clone().text()).toBe(200);
    const got = ((await res.json()) as { outputs: { data: number[] }[] }).outputs[0]?.data ?? [];
    const direct = await session.run({ x: new ort.Tensor('float32', input, SHAPE) });
    const want = (direct[session.outputNames[0] as string] as ort.Tensor).data as Float32Array;
    expect(got).toHaveLength(want.length);
    for (const [i, v] of got.entries()) expect(v).toBeCloseTo(want[i] as number, 5);
    expect(res.headers.get('ratelimit') ?? res.headers.get('ratelimit-remaining')).not.toBeNull();
  }, 30_000);

  it('maps simple JSON onto OIP at /v1/deployments/{id}/predict', async () => {
    const nested = Array.from({ length: 3 }, (_, c) =>
      Array.from({ length: 48 }, (_, y) =>
        Array.from({ length: 192 }, (_, x) => input[c * 48 * 192 + y * 192 + x]),
      ),
    );
    const res = await edgeFetch(`${edge?.url}/v1/deployments/${deploymentId}/predict`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: { x: [nested] } }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    if (res.status === 200) successes += 1;
    const { outputs } = (await res.json()) as { outputs: Record<string, number[][]> };
    const direct = await session.run({ x: new ort.Tensor('float32', input, SHAPE) });
    const name = session.outputNames[0] as string;
    const want = [...((direct[name] as ort.Tensor).data as Float32Array)];
    expect(outputs[name]?.[0]?.length).toBe(want.length);
    for (const [i, v] of (outputs[name]?.[0] ?? []).entries()) expect(v).toBeCloseTo(want[i] as number, 5);
  }, 30_000);

  it('answers a repeated call to a deterministic deployment from the response cache', async () => {
    const patched = await api(owner.token, 'PATCH', `/v1/deployments/${deploymentId}`, {
      deterministic: true,
    });
    expect(patched.status, patched.text).toBe(200);
    const statuses: string[] = [];
    await expect
      .poll(
        async () => {
          const res = await predict(apiKey);
          await res.arrayBuffer();
          statuses.push(res.headers.get('cache-status') ?? '');
          return res.headers.get('cache-status');
        },
        { timeout: 15_000, interval: 200 },
      )
      .toBe('meridian-edge; hit');
    expect(statuses).toContain('meridian-edge; fwd=miss; stored');
    await api(owner.token, 'PATCH', `/v1/deployments/${deploymentId}`, { deterministic: false });
  }, 30_000);

  it("gives another org's key a 404 for this org's deployment name", async () => {
    const stranger = await register('stranger');
    const key = await createKey(stranger);
    const res = await predict(key.secret);
    expect(res.status).toBe(404);
    expect(await res.text()).not.toContain(owner.orgId);
  }, 30_000);

  it('keeps serving cached callers while the control plane is down, and stores exactly the calls served', async () => {
    for (let i = 0; i < 5; i++) expect((await predict(apiKey)).status).toBe(200);
    const port = cp?.port;
    await cp?.stop();
    // Past every cache bound: the edge now serves from what it holds.
    await new Promise((r) => setTimeout(r, (KEY_CACHE_SECONDS + KEY_KV_FRESH_SECONDS + 1) * 1000));
    for (let i = 0; i < 10; i++) {
      const res = await predict(apiKey);
      expect(res.status, await res.clone().text()).toBe(200);
    }
    await startCp(port);
    await expect.poll(() => storedCalls(apiKeyId), { timeout: 60_000, interval: 500 }).toBe(successes);
    // And it stays exact: no batch is stored twice after it settles.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await storedCalls(apiKeyId)).toBe(successes);
    console.info(`usage stored after the control plane came back: ${successes} calls, as served`);
  }, 120_000);

  it('stops honouring a revoked key within the stated bound', async () => {
    const key = await createKey(owner);
    expect((await predict(key.secret)).status).toBe(200);
    expect((await api(owner.token, 'DELETE', `/v1/api-keys/${key.id}`)).status).toBe(200);
    const revokedAt = Date.now();
    await expect
      .poll(async () => (await predict(key.secret)).status, { timeout: 15_000, interval: 100 })
      .toBe(401);
    const took = Date.now() - revokedAt;
    console.info(
      `revoked key refused after ${took} ms (bound ${(KEY_CACHE_SECONDS + KEY_KV_FRESH_SECONDS) * 1000} ms)`,
    );
    expect(took).toBeLessThanOrEqual((KEY_CACHE_SECONDS + KEY_KV_FRESH_SECONDS) * 1000 + 1_000);
  }, 30_000);

  it('loses no call when a replica is killed mid-stream', async () => {
    let stop = false;
    const failures: string[] = [];
    let ok = 0;
    const callers = Array.from({ length: 4 }, async () => {
      while (!stop) {
        const res = await predict(apiKey);
        if (res.status === 200) ok += 1;
        else failures.push(`${res.status} ${await res.text()}`);
      }
    });
    await new Promise((r) => setTimeout(r, 1_000));
    await agents[0]?.kill();
    await new Promise((r) => setTimeout(r, 6_000));
    stop = true;
    await Promise.all(callers);
    console.info(`replica killed mid-stream: ${ok} calls succeeded, ${failures.length} failed`);
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(20);
  }, 60_000);

  it('lets 50 concurrent callers take exactly the 1,000 calls of the Free plan quota', async () => {
    const org = await register('quota');
    await deploy(org, 'ocr', 1);
    const key = await createKey(org);
    // The edge learns of the new deployment with its next routing pull; readiness is not metered.
    await waitUntil(
      async () =>
        (
          await edgeFetch(`${edge?.url}/v2/models/ocr/ready`, {
            headers: { authorization: `Bearer ${key.secret}` },
          })
        ).status,
      (status) => status === 200,
      { timeoutMs: 10_000, what: 'the edge routes the new deployment' },
    );
    let granted = 0;
    let refused = 0;
    let next = 0;
    const total = 1_100;
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (next < total) {
          next += 1;
          const res = await predict(key.secret);
          if (res.status === 200) granted += 1;
          else if (res.status === 429) refused += 1;
          else throw new Error(`unexpected ${res.status} ${await res.text()}`);
        }
      }),
    );
    console.info(`quota: ${granted} granted, ${refused} refused of ${total}`);
    expect(granted).toBe(1_000);
    expect(refused).toBe(100);
  }, 180_000);

  it('runs 1+1 in a Jupyter kernel reached through the edge WebSocket proxy', async () => {
    const nb = await api(owner.token, 'POST', '/v1/notebooks', { name: 'lab', gpuType: 'cpu' });
    expect(nb.status, nb.text).toBe(201);
    await expect
      .poll(async () => (await api(owner.token, 'GET', `/v1/notebooks/${nb.json.id}`)).json.status, {
        timeout: 60_000,
      })
      .toBe('running');
    const base = `${edge?.url}/notebooks/${nb.json.id}/`;
    const kernel = await edgeFetch(`${base}api/kernels`, {
      method: 'POST',
      headers: { authorization: `Bearer ${owner.token}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(kernel.status, await kernel.clone().text()).toBe(201);
    const { id: kernelId } = (await kernel.json()) as { id: string };
    // Another user's token is refused: the notebook is its owner's.
    const other = await register('other');
    expect(
      (await edgeFetch(`${base}api/kernels`, { headers: { authorization: `Bearer ${other.token}` } })).status,
    ).toBe(404);

    const wsUrl = `${base.replace(/^http/, 'ws')}api/kernels/${kernelId}/channels?access_token=${owner.token}`;
    const ws = new WebSocket(wsUrl);
    const msgId = crypto.randomUUID();
    const result = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no execute_result within 30 s')), 30_000);
      ws.addEventListener('open', () => {
        ws.send(
          JSON.stringify({
            header: {
              msg_id: msgId,
              username: 'e2e',
              session: crypto.randomUUID(),
              msg_type: 'execute_request',
              version: '5.3',
              date: new Date().toISOString(),
            },
            parent_header: {},
            metadata: {},
            content: {
              code: '1+1',
              silent: false,
              store_history: false,
              user_expressions: {},
              allow_stdin: false,
              stop_on_error: true,
            },
            channel: 'shell',
            buffers: [],
          }),
        );
      });
      ws.addEventListener('message', (event) => {
        const msg = JSON.parse(String(event.data)) as {
          msg_type: string;
          parent_header: { msg_id?: string };
          content: { data?: Record<string, string> };
        };
        if (msg.msg_type === 'execute_result' && msg.parent_header.msg_id === msgId) {
          clearTimeout(timer);
          resolve(msg.content.data?.['text/plain'] ?? '');
        }
      });
      ws.addEventListener('error', (event) =>
        reject(
          new Error(`websocket error: ${String((event as { message?: string }).message ?? event.type)}`),
        ),
      );
    });
    ws.close();
    expect(result).toBe('2');
  }, 120_000);
});
