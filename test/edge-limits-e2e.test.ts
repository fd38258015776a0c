import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MeridianClient, predictRaw } from '@meridian/sdk';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from './helpers/agent-process.js';
import { type LoggedProcess, startLoggedProcess } from './helpers/logged-process.js';
import { deployClassifier, jsonApi, startRegisteredAgent } from './helpers/platform.js';
import { freePortRun } from './helpers/ports.js';
import { type RunningControlPlane, startControlPlane } from './helpers/processes.js';
import { waitUntil } from './helpers/wait.js';

// The edge as `npm start` runs it, but with 4 Worker services (4 isolates) in one workerd process bound to one
// OrgLimiter namespace (scripts/edge.mjs, MERIDIAN_EDGE_ISOLATES), in front of a real control plane and a real
// agent serving the PaddleOCR classifier. Clients are ordinary keep-alive undici clients.

const ISOLATES = 4;
const SHAPE = [1, 3, 48, 192];
const input = new Float32Array(3 * 48 * 192).map((_, i) => Math.sin(i) * 0.5);
const header = JSON.stringify({
  inputs: [{ name: 'x', datatype: 'FP32', shape: SHAPE, parameters: { binary_data_size: input.byteLength } }],
});
const body = Buffer.concat([Buffer.from(header), Buffer.from(input.buffer)]);
const client = new Agent({ connections: 64 });

type Session = { token: string; orgId: string };
type Edge = LoggedProcess & { urls: string[] };

describe('limits and usage across edge isolates, end to end', () => {
  let dir = '';
  let cp: RunningControlPlane | undefined;
  let agent: RunningAgent | undefined;
  let edge: Edge | undefined;
  let edgePort = 0;
  const api = jsonApi(() => cp?.url ?? '');

  async function startEdge(): Promise<Edge> {
    const started = await startLoggedProcess({
      name: 'edge',
      args: ['scripts/edge.mjs'],
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? '/root',
        MERIDIAN_DATA_DIR: join(dir, 'cp'),
        MERIDIAN_EDGE_STATE_DIR: join(dir, 'edge'),
        MERIDIAN_EDGE_PORT: String(edgePort),
        MERIDIAN_EDGE_ISOLATES: String(ISOLATES),
        MERIDIAN_EDGE_CONTROL_PLANE_URL: cp?.url ?? '',
        MERIDIAN_EDGE_VAR_ROUTING_REFRESH_SECONDS: '1',
        MERIDIAN_EDGE_VAR_USAGE_FLUSH_SECONDS: '1',
      },
      ready: /"msg":"edge listening".*"isolates":(\[[^\]]*\])/,
      // Bundling with wrangler first: slow on a loaded machine.
      timeoutMs: 150_000,
    });
    return { ...started, urls: JSON.parse(started.value) as string[] };
  }

  async function register(name: string): Promise<Session> {
    const res = await api('', 'POST', '/v1/auth/register', {
      email: `${name}-${Date.now()}@example.com`,
      password: 'correct horse battery staple',
      name,
    });
    expect(res.status, res.text).toBe(201);
    return { token: res.json.accessToken, orgId: res.json.org.id };
  }

  async function deploy(s: Session, name: string): Promise<void> {
    await deployClassifier(api, cp?.url ?? '', s.token, name);
  }

  /** Until every isolate's routing snapshot has the deployment and its replica answers (not metered). */
  async function servedEverywhere(key: string, name: string): Promise<void> {
    for (const url of edge?.urls ?? []) {
      await waitUntil(
        async () =>
          (
            await undiciFetch(`${url}/v2/models/${name}/ready`, {
              headers: { authorization: `Bearer ${key}` },
              dispatcher: client,
            })
          ).status,
        (status) => status === 200,
        { timeoutMs: 30_000, what: `${name} ready at ${url}` },
      );
    }
  }

  async function createKey(s: Session, rateLimits: unknown[] = []): Promise<string> {
    const res = await api(s.token, 'POST', '/v1/api-keys', { name: 'load', scopes: ['predict'], rateLimits });
    expect(res.status, res.text).toBe(201);
    return res.json.secret as string;
  }

  /** One prediction through isolate `i % 4`; the status, or 0 when the connection failed. */
  async function predict(i: number, key: string, name: string, idempotencyKey?: string): Promise<number> {
    const url = edge?.urls[i % ISOLATES] ?? '';
    try {
      const res = await undiciFetch(`${url}/v2/models/${name}/infer`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${key}`,
          'content-type': 'application/octet-stream',
          'inference-header-content-length': String(Buffer.byteLength(header)),
          ...(idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey }),
        },
        body,
        dispatcher: client,
      });
      const text = await res.text();
      if (res.status !== 200 && res.status !== 429) console.error(`${res.status} ${text.slice(0, 300)}`);
      if (res.status === 429) expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      return res.status;
    } catch {
      // The connection failed: the kill test cuts them on purpose.
      return 0;
    }
  }

  /** Served calls of the org this month, as the billing API reports them. */
  async function billedCalls(s: Session): Promise<number> {
    const res = await api(s.token, 'GET', '/v1/billing/stats');
    expect(res.status, res.text).toBe(200);
    return res.json.calls.used as number;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edge-limits-e2e-'));
    cp = await startControlPlane({
      dataDir: join(dir, 'cp'),
      env: {
        MERIDIAN_AGENT_HEARTBEAT_SECONDS: '1',
        // A loaded machine delays heartbeats: the agent must not be declared lost mid-test.
        MERIDIAN_AGENT_HEARTBEAT_TIMEOUT_SECONDS: '60',
        MERIDIAN_SCHEDULER_INTERVAL_MS: '250',
        MERIDIAN_LOG_LEVEL: 'warn',
      },
    });
    agent = await startRegisteredAgent(cp.url, join(dir, 'cp'), join(dir, 'agent'));
    edgePort = await freePortRun(ISOLATES);
    edge = await startEdge();
  }, 180_000);

  afterEach((ctx) => {
    if (ctx.task.result?.state !== 'fail') return;
    console.error(`--- edge log (tail) ---\n${edge?.logs().slice(-6_000)}`);
    console.error(`--- agent log (tail) ---\n${agent?.logs().slice(-6_000)}`);
  });

  afterAll(async () => {
    await edge?.stop();
    await agent?.stop();
    await cp?.stop();
    await client.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('admits exactly 1,000 of 1,100 calls from 50 callers over 4 isolates against the free plan’s quota', async () => {
    const owner = await register('quota');
    await deploy(owner, 'quota');
    const key = await createKey(owner);
    await servedEverywhere(key, 'quota');

    const statuses = (
      await Promise.all(
        Array.from({ length: 50 }, async (_, caller) => {
          const mine: number[] = [];
          for (let i = 0; i < 22; i++) mine.push(await predict(caller, key, 'quota'));
          return mine;
        }),
      )
    ).flat();

    const counts = JSON.stringify(tally(statuses));
    expect(statuses.filter((s) => s === 200).length, counts).toBe(1_000);
    expect(statuses.filter((s) => s === 429).length, counts).toBe(100);
    await waitUntil(
      () => billedCalls(owner),
      (n) => n === 1_000,
      { timeoutMs: 30_000, what: 'the 1,000 served calls in the ledger' },
    );
  }, 180_000);

  it('holds a per-second limit in every second across 4 isolates', async () => {
    const owner = await register('rate');
    await deploy(owner, 'rate');
    const key = await createKey(owner, [{ name: 'per-second', limit: 10, periodSeconds: 1 }]);
    await servedEverywhere(key, 'rate');
    const started = Date.now();
    const until = started + 3_000;

    const admitted: number[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async (_, caller) => {
        while (Date.now() < until) {
          const sentAt = Date.now();
          if ((await predict(caller, key, 'rate')) === 200) admitted.push(sentAt);
        }
      }),
    );

    // Windows are aligned to the second: however calls straddle them, the run spans at most 4 windows.
    const windows = Math.floor(until / 1000) - Math.floor(started / 1000) + 1;
    expect(admitted.length).toBeLessThanOrEqual(10 * windows);
    expect(admitted.length).toBeGreaterThanOrEqual(10);
  }, 120_000);

  // The agent journals a call before its 200 leaves; the edge relays it. A call whose answer the agent had
  // written, but which workerd had not yet relayed when it died, was served without being received. Each
  // call carries an Idempotency-Key, as the SDK sends them; a caller whose call was cut off sends it again
  // through the SDK with the same key once the edge is back, so every call is received once, and each key
  // is billed once (served twice, it is still one call): billed equals received, exactly.
  it('bills exactly the distinct calls clients received through kill -9 of workerd under load, cut-off calls retried with their Idempotency-Key', async () => {
    const owner = await register('crash');
    const plan = await api(owner.token, 'PUT', '/v1/billing/plan', { plan: 'pro' });
    expect(plan.status, plan.text).toBe(200);
    await deploy(owner, 'crash');
    const key = await createKey(owner);
    await servedEverywhere(key, 'crash');

    let served = 0;
    let stop = false;
    const cutOff: { caller: number; idempotencyKey: string }[] = [];
    const load = Promise.all(
      Array.from({ length: 50 }, async (_, caller) => {
        while (!stop) {
          const idempotencyKey = randomUUID();
          const status = await predict(caller, key, 'crash', idempotencyKey);
          if (status === 200) served += 1;
          if (status === 0) {
            cutOff.push({ caller, idempotencyKey });
            return;
          }
        }
      }),
    );
    await waitUntil(
      async () => served,
      (n) => n >= 100,
      { timeoutMs: 90_000, what: '100 served calls' },
    );
    const workerd = childrenOf(edge?.pid ?? 0).find((pid) => commandOf(pid) === 'workerd');
    expect(workerd).toBeDefined();
    process.kill(workerd ?? 0, 'SIGKILL');
    stop = true;
    await load;
    await edge?.kill();

    edge = await startEdge();
    // Each cut-off call again through the SDK with its own key, on the SDK's default retry policy.
    for (const { caller, idempotencyKey } of cutOff) {
      const url = edge?.urls[caller % ISOLATES] ?? '';
      const sdk = new MeridianClient({ baseUrl: url, edgeUrl: url, apiKey: key });
      const answer = await predictRaw(
        sdk,
        `${url}/v2/models/crash/infer`,
        body,
        {
          'content-type': 'application/octet-stream',
          'inference-header-content-length': String(Buffer.byteLength(header)),
        },
        { idempotencyKey },
      );
      expect(answer.outputs.length, `retry of cut-off call ${idempotencyKey}`).toBeGreaterThan(0);
    }
    // And one call without a key: billed as before keys existed.
    expect(await predict(0, key, 'crash')).toBe(200);
    const received = served + cutOff.length + 1;
    // The agent reports its journal every few seconds: wait for every received call, then for the count to hold.
    await waitUntil(
      () => billedCalls(owner),
      (n) => n >= received,
      { timeoutMs: 60_000, what: `the ${received} calls clients received, in the ledger` },
    );
    let billed = await billedCalls(owner);
    for (let stable = 0; stable < 6; ) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const now = await billedCalls(owner);
      stable = now === billed ? stable + 1 : 0;
      billed = now;
    }
    console.info(
      `kill -9 of workerd under load: ${received} distinct calls received (${cutOff.length} cut off and retried), ${billed} billed`,
    );
    expect(billed).toBe(received);
  }, 240_000);
});

/** How many times each status occurs. */
function tally(statuses: number[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

/** Process ids whose parent is `pid` (from /proc). */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((child) => {
      try {
        const stat = readFileSync(`/proc/${child}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false;
      }
    });
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}
