import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Client, createClient } from '@libsql/client';
import { INFERENCE_HEADER_CONTENT_LENGTH } from '@meridian/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REAL_MODELS } from '../control-plane/src/onnx/test-models.js';
import type { RunningAgent } from './helpers/agent-process.js';
import {
  classifierBody,
  deploy,
  imageBody,
  percentile,
  replicasOf,
  replicaTimeline,
  routedHoldMs,
  serving,
  uploadModel,
  waitForStatus,
} from './helpers/autoscaling.js';
import { edgeFetch, type RunningEdge, startEdgeProcess } from './helpers/edge-process.js';
import { jsonApi, startRegisteredAgent } from './helpers/platform.js';
import { freePort } from './helpers/ports.js';
import { type RunningService, startPatientControlPlane } from './helpers/stack.js';
import { waitUntil } from './helpers/wait.js';

/** The edge's hold bound here: longer than a cached cold start on a busy two-core machine (5 s was not). */
const HOLD_MS = 20_000;
/** The ocr deployment's own hold bound, set by PATCH: shorter than the edge's, so the answer shows whose it is. */
const DEPLOYMENT_HOLD_SECONDS = 8;
/** Agent A's model cache: room for the classifier and the detector, not for the recogniser (10.8 MB). */
const SMALL_CACHE_BYTES = 8 * 1024 * 1024;
/** Callers of the load step. */
const CALLERS = 16;
const paddleRec = REAL_MODELS.paddleDet.replace('det_infer', 'rec_infer');

/**
 * Autoscaling end to end: a real control plane, two real CPU agents and the edge Worker in workerd, with the
 * autoscaler's windows and delays cut to seconds. Agent A's cache cannot hold the recogniser, so its load
 * fails there; agent B starts after that deployment first failed.
 */
describe('autoscaling and scale to zero through the edge', () => {
  let dir = '';
  let cp: RunningService | undefined;
  let edge: RunningEdge | undefined;
  const agents: RunningAgent[] = [];
  let db: Client;
  let token = '';
  let apiKey = '';
  const models: Record<string, string> = {};
  const api = jsonApi(() => cp?.url ?? '');
  const cls = classifierBody();

  const infer = async (name: string, encoded = cls) => {
    const started = performance.now();
    const res = await edgeFetch(`${edge?.url}/v2/models/${name}/infer`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${apiKey}`,
        'content-type': 'application/octet-stream',
        [INFERENCE_HEADER_CONTENT_LENGTH]: String(encoded.headerLength),
      },
      body: encoded.body,
    });
    const text = await res.text();
    return {
      status: res.status,
      ms: performance.now() - started,
      retryAfter: res.headers.get('retry-after'),
      text,
    };
  };
  const deployment = async (id: string) => (await api(token, 'GET', `/v1/deployments/${id}`)).json;
  const events = async (id: string) =>
    ((await api(token, 'GET', `/v1/deployments/${id}/events`)).json.items ?? []) as {
      type: string;
      message: string;
    }[];
  const startAgent = async (name: string, env: Record<string, string> = {}) => {
    const agent = await startRegisteredAgent(cp?.url ?? '', join(dir, 'cp'), join(dir, name), {
      MERIDIAN_AGENT_USAGE_INTERVAL_SECONDS: '1',
      ...env,
    });
    agents.push(agent);
    return agent;
  };
  /** Waits until no replica of the deployment is left, and answers when that was seen. */
  const atZero = async (id: string, timeoutMs = 30_000) => {
    await waitUntil(
      () => replicasOf(db, id),
      (r) => r.length === 0,
      { timeoutMs, what: `${id} at zero` },
    );
    const at = Date.now();
    // The edge's routing (refreshed every second here) shows it too.
    await new Promise((r) => setTimeout(r, 2_500));
    return at;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'autoscaling-e2e-'));
    // Patient: on a busy two-core machine tsx alone can take longer than 20 s to compile it.
    cp = await startPatientControlPlane(join(dir, 'cp'), {
      MERIDIAN_AGENT_HEARTBEAT_SECONDS: '1',
      MERIDIAN_AGENT_HEARTBEAT_TIMEOUT_SECONDS: '20',
      MERIDIAN_SCHEDULER_INTERVAL_MS: '250',
      MERIDIAN_ROLLOUT_RETIRE_SECONDS: '1',
      MERIDIAN_AUTOSCALER_STABLE_WINDOW_SECONDS: '4',
      MERIDIAN_AUTOSCALER_PANIC_WINDOW_SECONDS: '2',
    });
    db = createClient({ url: `file:${join(dir, 'cp', 'control-plane.db')}` });
    await startAgent('agent-a', { MERIDIAN_AGENT_DISK_BUDGET_BYTES: String(SMALL_CACHE_BYTES) });
    edge = await startEdgeProcess({
      MERIDIAN_DATA_DIR: join(dir, 'cp'),
      MERIDIAN_EDGE_STATE_DIR: join(dir, 'edge'),
      MERIDIAN_EDGE_PORT: String(await freePort()),
      MERIDIAN_EDGE_CONTROL_PLANE_URL: cp.url,
      MERIDIAN_EDGE_VAR_ROUTING_REFRESH_SECONDS: '1',
      MERIDIAN_EDGE_VAR_USAGE_FLUSH_SECONDS: '1',
      MERIDIAN_EDGE_VAR_HOLD_MAX_WAIT_MS: String(HOLD_MS),
    });
    const owner = await api('', 'POST', '/v1/auth/register', {
      email: `scaler-${Date.now()}@example.com`,
      password: 'correct horse battery',
      name: 'scaler',
    });
    token = owner.json.accessToken;
    // A Pro plan's quota: the load step sends more calls than the free tier's 1,000.
    const plan = await api(token, 'PUT', '/v1/billing/plan', { plan: 'pro' });
    if (plan.status !== 200) throw new Error(`pro plan: ${plan.status} ${plan.text}`);
    const key = await api(token, 'POST', '/v1/api-keys', { name: 'k', scopes: ['predict'] });
    apiKey = key.json.secret;
    models.cls = await uploadModel(api, cp.url, token, 'cls', REAL_MODELS.paddleCls);
    models.det = await uploadModel(api, cp.url, token, 'det', REAL_MODELS.paddleDet);
    models.rec = await uploadModel(api, cp.url, token, 'rec', paddleRec);
  }, 180_000);

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') {
      console.error(`--- control plane (tail) ---\n${cp?.logs().slice(-4_000)}`);
      for (const a of agents) console.error(`--- agent ${a.agentId} (tail) ---\n${a.logs().slice(-3_000)}`);
      console.error(`--- edge (tail) ---\n${edge?.logs().slice(-3_000)}`);
    }
  });

  afterAll(async () => {
    for (const a of agents) if (a.pid) process.kill(a.pid, 'SIGCONT');
    await edge?.stop();
    for (const a of agents) await a.stop();
    await cp?.stop();
    db?.close();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('retries a replica whose load fails, and the deployment reaches ready on the other agent', async () => {
    const [a] = agents;
    const id = await deploy(api, token, 'rec', models.rec ?? '', { minReplicas: 1, maxReplicas: 1 });
    await waitUntil(
      () => replicasOf(db, id),
      (r) => r.some((w) => w.phase === 'failed'),
      {
        timeoutMs: 30_000,
        what: 'the first attempt failed on agent A',
      },
    );
    const b = await startAgent('agent-b');

    await waitForStatus(api, token, id, 'ready', 60_000);

    const ready = serving(await replicasOf(db, id));
    expect(ready.map((r) => r.agentId)).toEqual([b.agentId]);
    expect(a?.agentId).not.toBe(b.agentId);
    const status = await deployment(id);
    const kinds = (await events(id)).map((e) => e.type);
    console.info(
      `rec: ready on agent B after ${kinds.filter((k) => k === 'replica_failed').length} failed loads on A`,
    );
    expect(kinds).toContain('replica_retry');
    expect(status.status).toBe('ready');
    expect(await api(token, 'DELETE', `/v1/deployments/${id}`)).toMatchObject({ status: 204 });
  }, 120_000);

  it('scales a load step from 1 to 3 replicas over both agents, never past max, then back down when idle', async () => {
    const id = await deploy(api, token, 'det', models.det ?? '', {
      minReplicas: 1,
      maxReplicas: 3,
      // One per replica, and 16 callers: only about a third of the callers are at the agents at any moment
      // (the rest are in the edge or the client). 8 callers at 2 per replica settled on 2 replicas on a quiet
      // machine (demand 4), so 3 was never wanted; 16 at 1 want more than the max, which the test then checks.
      targetConcurrency: 1,
      scaleDownDelaySeconds: 1,
    });
    await waitForStatus(api, token, id, 'ready');
    const body = imageBody(96);
    let running = true;
    const latencies: number[] = [];
    const statuses = new Map<number, number>();
    const callers = Array.from({ length: CALLERS }, async () => {
      while (running) {
        const r = await infer('det', body);
        latencies.push(r.ms);
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      }
    });
    const started = Date.now();
    let most = 0;
    try {
      const spread = await waitUntil(
        async () => {
          const live = await replicasOf(db, id);
          most = Math.max(most, live.filter((r) => !r.retiring).length);
          return serving(live);
        },
        (ready) => ready.length === 3,
        // Loads are slow on a busy two-core machine (15–50 s for this 4.7 MB model, seen): generous.
        { timeoutMs: 150_000, intervalMs: 200, what: 'three replicas serving' },
      ).finally(async () => {
        // Where each replica's time went (decision, pull, load, report), printed on success and on timeout.
        console.info(`det replicas, step at ${new Date(started).toISOString().slice(11, 23)}:`);
        for (const line of await replicaTimeline(db, id)) console.info(`  ${line}`);
        console.info(`det decisions so far: ${JSON.stringify((await events(id)).map((e) => e.message))}`);
      });
      console.info(
        `det: 1 → 3 replicas serving ${Date.now() - started} ms after ${CALLERS} callers started; ` +
          `p50 ${percentile(latencies, 50).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms`,
      );
      expect(new Set(spread.map((r) => r.agentId)).size).toBe(2);
    } finally {
      running = false;
      await Promise.all(callers);
    }
    expect(most).toBeLessThanOrEqual(3);
    expect((await deployment(id)).desiredReplicas).toBeLessThanOrEqual(3);
    // An overloaded replica sheds what waited 5 s in its queue (503, Retry-After); nothing else fails.
    console.info(`det statuses during the step: ${JSON.stringify([...statuses])}`);
    expect([...statuses.keys()].filter((s) => s !== 200 && s !== 503)).toEqual([]);
    expect(statuses.get(200) ?? 0).toBeGreaterThan(((statuses.get(503) ?? 0) + (statuses.get(200) ?? 0)) / 2);

    await waitUntil(
      () => replicasOf(db, id),
      (r) => serving(r).length === 1 && r.length === 1,
      {
        // The stable window is 60 s unless the control plane is told otherwise.
        timeoutMs: 100_000,
        what: 'back to one replica once idle',
      },
    );
    const decisions = (await events(id)).map((e) => e.message).filter((m) => / → \d+ replica/.test(m));
    console.info(`det decisions: ${JSON.stringify(decisions)}`);
    expect(decisions.some((m) => m.includes('in flight'))).toBe(true);
    expect(await api(token, 'DELETE', `/v1/deployments/${id}`)).toMatchObject({ status: 204 });
  }, 360_000);

  let ocr = '';
  let zeroAt = 0;
  let wokeAt = 0;

  it('goes to zero after its idle window, and a call at zero is held and answered 200', async () => {
    ocr = await deploy(api, token, 'ocr', models.cls ?? '', {
      minReplicas: 0,
      maxReplicas: 2,
      targetConcurrency: 32,
      scaleDownDelaySeconds: 1,
      scaleToZeroAfterSeconds: 2,
    });
    // Called at once: held while its first replica starts (it may even reach zero first, and be woken). Until
    // the scheduler's next tick publishes it, routing does not know the name yet (404).
    const first = await waitUntil(
      () => infer('ocr'),
      (r) => r.status !== 404,
      {
        timeoutMs: 10_000,
        intervalMs: 50,
        what: 'ocr in routing',
      },
    );
    expect(first.status, first.text).toBe(200);
    console.info(`ocr: deploy → first 200 through the edge in ${first.ms.toFixed(0)} ms`);
    zeroAt = await atZero(ocr);

    wokeAt = Date.now();
    const woken = await infer('ocr');

    expect(woken.status, woken.text).toBe(200);
    console.info(`ocr: first answer from zero (model cached) in ${woken.ms.toFixed(0)} ms`);
    expect(woken.ms).toBeLessThan(HOLD_MS);
  }, 90_000);

  it('bills no replica time for the time the deployment spent at zero', async () => {
    const entries = async () =>
      (
        await db.execute({
          sql: `select e.from_at, e.to_at, e.seconds from agent_usage_entries e
                join workload_owners o on o.workload_id = e.workload_id where o.deployment_id = ?`,
          args: [ocr],
        })
      ).rows.map((r) => ({ from: Number(r.from_at), to: Number(r.to_at), seconds: Number(r.seconds) }));
    // The replica woken is reported within a usage interval (1 s here).
    await waitUntil(entries, (rows) => rows.some((r) => r.to > wokeAt), {
      timeoutMs: 20_000,
      what: 'usage after the wake',
    });
    const rows = await entries();
    const overlapping = rows.filter((r) => r.to > zeroAt + 1_000 && r.from < wokeAt);
    expect(overlapping).toEqual([]);
    const billed = async () =>
      Number(
        (
          await db.execute({
            sql: "select coalesce(sum(quantity), 0) as q from ledger_entries where deployment_id = ? and meter = 'cpu_minutes'",
            args: [ocr],
          })
        ).rows[0]?.q,
      );
    const reported = rows.reduce((n, r) => n + r.seconds, 0);
    await expect.poll(billed, { timeout: 20_000 }).toBeCloseTo(reported, 3);
    console.info(`ocr: ${reported.toFixed(1)} CPU seconds billed, none between ${zeroAt} and ${wokeAt}`);
  }, 60_000);

  it('starts exactly one replica for 20 callers arriving together at zero, and answers them all', async () => {
    const since = await atZero(ocr);

    const answers = await Promise.all(Array.from({ length: 20 }, () => infer('ocr')));

    const texts = JSON.stringify(answers.filter((a) => a.status !== 200).map((a) => a.text.slice(0, 300)));
    expect(
      answers.map((a) => a.status),
      texts,
    ).toEqual(Array(20).fill(200));
    const started = (await replicasOf(db, ocr)).filter((r) => r.createdAt >= since - 1_000);
    expect(started).toHaveLength(1);
    console.info(
      `ocr: 20 held callers answered in ${percentile(
        answers.map((a) => a.ms),
        100,
      ).toFixed(0)} ms at most`,
    );
  }, 60_000);

  it("answers 503 with Retry-After, in OIP shape, when a held call waits past its deployment's bound", async () => {
    const patched = await api(token, 'PATCH', `/v1/deployments/${ocr}`, {
      holdTimeoutSeconds: DEPLOYMENT_HOLD_SECONDS,
    });
    expect(patched.status, patched.text).toBe(200);
    await waitUntil(
      () => routedHoldMs(db, ocr),
      (ms) => ms === DEPLOYMENT_HOLD_SECONDS * 1000,
      { timeoutMs: 10_000, what: "the deployment's hold bound in routing" },
    );
    await atZero(ocr);
    // A name it does not know makes the edge pull routing now: the call below finds no replica at all,
    // rather than the paused agent's old one (it would wait out the upstream timeout there instead).
    expect((await infer('no-such-model')).status).toBe(404);
    for (const a of agents) if (a.pid) process.kill(a.pid, 'SIGSTOP');
    let answer: Awaited<ReturnType<typeof infer>>;
    try {
      answer = await infer('ocr');
    } finally {
      for (const a of agents) if (a.pid) process.kill(a.pid, 'SIGCONT');
    }

    expect(answer.status).toBe(503);
    expect(answer.retryAfter).toMatch(/^\d+$/);
    expect(answer.ms).toBeGreaterThanOrEqual(DEPLOYMENT_HOLD_SECONDS * 1000 - 100);
    expect(answer.ms).toBeLessThan(HOLD_MS);
    const body = JSON.parse(answer.text) as { error: unknown };
    expect(typeof body.error).toBe('string');
    expect(body.error).toContain("model 'ocr' has no ready replica");
  }, 60_000);
});
