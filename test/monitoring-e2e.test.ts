import { type ChildProcess, spawn } from 'node:child_process';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeMlp } from '../gpu-agent/src/onnx/testing/mlp.js';
import { edgeFetch } from './helpers/edge-process.js';
import { type LoggedProcess, startLoggedProcess } from './helpers/logged-process.js';
import { issueBootstrapToken, jsonApi } from './helpers/platform.js';
import { freePort } from './helpers/ports.js';
import { type RunningService, startPatientControlPlane } from './helpers/stack.js';
import { waitUntil } from './helpers/wait.js';

const EVALUATE_SECONDS = 1;
const WINDOW_SECONDS = 120;

interface Received {
  at: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}
type Point = { requests: Record<string, number>; latency: { count: number }; compute: { count: number } };
type DriftAnswer = {
  drifted: string[];
  features: {
    feature: string;
    reference: { samples: number; complete: boolean };
    windows: { samples: number }[];
  }[];
};

/** Seeded N(mean, 1) values (mulberry32 + Box–Muller): the same inputs on every run. */
function normals(n: number, mean: number, seed: number): number[] {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Array.from(
    { length: n },
    () => mean + Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform()),
  );
}
type PromResult = { metric: Record<string, string>; value: [number, string] }[];

/** The documented check (README, "Webhook signatures"): HMAC-SHA256 of `<t>.<body>` with the channel secret. */
function verifySignature(secret: string, header: string, body: string): boolean {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=') as [string, string]));
  const t = parts.t ?? '';
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  const given = Buffer.from(parts.v1 ?? '', 'hex');
  const fresh = Math.abs(Date.now() / 1000 - Number(t)) < 300;
  return fresh && given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * Monitoring end to end: the edge (workerd) aggregates per-deployment metrics into batches, the control
 * plane stores them and answers the metrics route and the org's Prometheus route; alert rules fire and
 * resolve through a real HTTP webhook receiver and a real SMTP server (smtp-server), and Debian's
 * Prometheus scrapes one org's route with its key.
 */
describe('per-deployment monitoring and alerts', () => {
  let dir = '';
  let cp: (RunningService & { port: number }) | undefined;
  let agent: LoggedProcess | undefined;
  let edge: LoggedProcess | undefined;
  let receiver: Server | undefined;
  let smtp: SMTPServer | undefined;
  let prometheus: ChildProcess | undefined;
  const hooks: Received[] = [];
  const mails: string[] = [];
  let hookUrl = '';
  let smtpPort = 0;
  let token = '';
  let tokenB = '';
  let deploymentId = '';
  let key = '';
  const api = jsonApi(() => cp?.url ?? '');
  /** Calls of org A's first deployment answered 200: what its ledger must bill. */
  let servedA = 0;

  const good = JSON.stringify({
    inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 8], data: [1, 2, 3, 4, 5, 6, 7, 8] }],
  });
  // The wrong width: the agent refuses it with 400 against the model's signature.
  const bad = JSON.stringify({
    inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 7], data: [1, 2, 3, 4, 5, 6, 7] }],
  });
  const call = async (model: string, secret: string, body: string) => {
    const res = await edgeFetch(`${edge?.value}/v2/models/${model}/infer`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body,
    });
    await res.arrayBuffer();
    if (res.status === 200 && model === 'tabular-a') servedA += 1;
    return res.status;
  };

  /** Uploads the [N, 8] MLP as `name`, deploys it, and waits for the edge to route it with `secret`. */
  const deployMlp = async (auth: string, name: string, seed: number) => {
    const path = await writeMlp(join(dir, `${name}.onnx`), { inputs: 8, hidden: 16, outputs: 2, seed });
    const model = await api(auth, 'POST', '/v1/models', { name });
    const up = await fetch(`${cp?.url}/v1/models/${model.json.id}/versions?filename=m.onnx`, {
      method: 'POST',
      headers: { authorization: `Bearer ${auth}`, 'content-type': 'application/octet-stream' },
      body: readFileSync(path),
    });
    expect(up.status, await up.clone().text()).toBe(201);
    const dep = await api(auth, 'POST', '/v1/deployments', {
      name,
      model: model.json.id,
      version: 1,
      gpuType: 'cpu',
      minReplicas: 1,
      maxReplicas: 1,
    });
    expect(dep.status, dep.text).toBe(201);
    return dep.json.id as string;
  };
  const waitRouted = async (name: string, secret: string) =>
    waitUntil(
      async () =>
        (
          await edgeFetch(`${edge?.value}/v2/models/${name}/ready`, {
            headers: { authorization: `Bearer ${secret}` },
          })
        ).status,
      (status) => status === 200,
      { timeoutMs: 120_000, what: `the edge routes ${name}` },
    );

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'monitoring-e2e-'));
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        hooks.push({ at: Date.now(), headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    const hookPort = await freePort();
    await new Promise<void>((r) => receiver?.listen(hookPort, '127.0.0.1', r));
    hookUrl = `http://127.0.0.1:${hookPort}/hook`;
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      onData(stream, _session, done) {
        let text = '';
        stream.on('data', (c: Buffer) => {
          text += c.toString();
        });
        stream.on('end', () => {
          mails.push(text);
          done();
        });
      },
    });
    smtpPort = await freePort();
    await new Promise<void>((r) => smtp?.listen(smtpPort, '127.0.0.1', r));

    // Patient starts (two minutes each): on a loaded two-core machine tsx and the Worker bundle are slow.
    cp = await startPatientControlPlane(join(dir, 'cp'), {
      MERIDIAN_AGENT_HEARTBEAT_SECONDS: '1',
      MERIDIAN_SCHEDULER_INTERVAL_MS: '250',
      MERIDIAN_AUTH_REGISTRATIONS_PER_ADDRESS: '100',
      MERIDIAN_ALERT_EVALUATE_SECONDS: String(EVALUATE_SECONDS),
      // The receiver is on loopback, which the default setting refuses (tested in the control plane's own tests).
      MERIDIAN_WEBHOOK_ALLOW_PRIVATE: 'true',
      MERIDIAN_WEBHOOK_RETRY_BASE_MS: '200',
      MERIDIAN_SMTP_HOST: '127.0.0.1',
      MERIDIAN_SMTP_PORT: String(smtpPort),
      MERIDIAN_DRIFT_REFERENCE_SAMPLES: '1000',
      // One window for the whole run: each deployment's second phase is compared as one window.
      MERIDIAN_DRIFT_WINDOW_SECONDS: String(366 * 86_400),
    });
    const PATH = process.env.PATH ?? '/usr/bin:/bin';
    agent = await startLoggedProcess({
      name: 'agent',
      args: ['--import', 'tsx', 'gpu-agent/src/main.ts'],
      env: {
        PATH,
        MERIDIAN_AGENT_CONTROL_PLANE_URL: cp.url,
        MERIDIAN_AGENT_BOOTSTRAP_TOKEN: await issueBootstrapToken(cp.url, join(dir, 'cp')),
        MERIDIAN_AGENT_DATA_DIR: join(dir, 'agent'),
        MERIDIAN_AGENT_LISTEN_PORT: String(await freePort()),
        MERIDIAN_AGENT_NVIDIA_SMI: join(dir, 'no-nvidia-smi'),
        MERIDIAN_AGENT_ON_STOP: 'stop-workloads',
        MERIDIAN_AGENT_PREDICTION_USAGE_INTERVAL_MS: '500',
        MERIDIAN_AGENT_MONITORING_INTERVAL_MS: '500',
        MERIDIAN_AGENT_DRIFT_SAMPLE_RATE: '1',
      },
      ready: /"msg":"agent running","agentId":"([^"]+)"/,
      timeoutMs: 120_000,
    });
    edge = await startLoggedProcess({
      name: 'edge',
      args: ['scripts/edge.mjs'],
      env: {
        PATH,
        HOME: process.env.HOME ?? '/root',
        MERIDIAN_DATA_DIR: join(dir, 'cp'),
        MERIDIAN_EDGE_STATE_DIR: join(dir, 'edge'),
        MERIDIAN_EDGE_PORT: String(await freePort()),
        MERIDIAN_EDGE_CONTROL_PLANE_URL: cp.url,
        MERIDIAN_EDGE_VAR_ROUTING_REFRESH_SECONDS: '1',
        MERIDIAN_EDGE_VAR_METRICS_FLUSH_SECONDS: '1',
      },
      ready: /"msg":"edge listening","url":"([^"]+)"/,
      timeoutMs: 120_000,
    });
    const reg = await api('', 'POST', '/v1/auth/register', {
      email: `mon-a-${Date.now()}@example.com`,
      password: 'correct horse battery',
      name: 'a',
    });
    token = reg.json.accessToken;
    // Pro: several models, and a quota far above the calls this file makes.
    const plan = await api(token, 'PUT', '/v1/billing/plan', { plan: 'pro' });
    expect(plan.status, plan.text).toBe(200);
    deploymentId = await deployMlp(token, 'tabular-a', 1);
    key = (await api(token, 'POST', '/v1/api-keys', { name: 'k', scopes: ['predict'] })).json.secret;
    await waitRouted('tabular-a', key);
  }, 240_000);

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail')
      console.error(
        `--- control plane ---\n${cp?.logs().slice(-4_000)}\n--- agent ---\n${agent?.logs().slice(-3_000)}\n--- edge ---\n${edge?.logs().slice(-3_000)}`,
      );
  });

  afterAll(async () => {
    prometheus?.kill('SIGTERM');
    await edge?.stop();
    await agent?.stop();
    await cp?.stop();
    await new Promise((r) => receiver?.close(r));
    await new Promise<void>((r) => (smtp ? smtp.close(() => r()) : r()));
    await rm(dir, { recursive: true, force: true });
  });

  it('counts 200 calls with 10% failing by status class and latency, and an error-rate rule fires once then resolves once', async () => {
    const channel = await api(token, 'POST', '/v1/notification-channels', {
      name: 'hook',
      kind: 'webhook',
      target: hookUrl,
    });
    expect(channel.status, channel.text).toBe(201);
    const secret = channel.json.secret as string;
    const rule = await api(token, 'POST', '/v1/alert-rules', {
      name: 'errors above 5%',
      metric: 'error_rate',
      deploymentId,
      windowSeconds: WINDOW_SECONDS,
      threshold: 0.05,
      channelIds: [channel.json.id],
    });
    expect(rule.status, rule.text).toBe(201);

    const from = new Date(Date.now() - 60_000).toISOString();
    let firstFailure = 0;
    const statuses: number[] = [];
    for (let i = 0; i < 200; i += 1) {
      const failing = i % 10 === 9;
      if (failing && firstFailure === 0) firstFailure = Date.now();
      statuses.push(await call('tabular-a', key, failing ? bad : good));
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(180);
    expect(statuses.filter((s) => s >= 400)).toHaveLength(20);

    const summed = async () => {
      const to = new Date(Date.now() + 60_000).toISOString();
      const res = await api(
        token,
        'GET',
        `/v1/deployments/${deploymentId}/metrics?from=${from}&to=${to}&step=60`,
      );
      expect(res.status, res.text).toBe(200);
      const points = (res.json.series as { points: Point[] }[]).flatMap((s) => s.points);
      const sum = (f: (p: Point) => number) => points.reduce((n, p) => n + f(p), 0);
      return {
        ok: sum((p) => p.requests['2xx'] ?? 0),
        failed: sum((p) => (p.requests['4xx'] ?? 0) + (p.requests['5xx'] ?? 0)),
        latencyCount: sum((p) => p.latency.count),
        // The agent's compute histogram: the calls that reached the model.
        computeCount: sum((p) => p.compute.count),
      };
    };
    await expect
      .poll(summed, { timeout: 30_000, interval: 500 })
      .toEqual({ ok: 180, failed: 20, latencyCount: 200, computeCount: 180 });

    // Fires within its window plus one evaluation of the first failure, with one signed notification.
    await waitUntil(
      async () => hooks.length,
      (n) => n >= 1,
      { timeoutMs: (WINDOW_SECONDS + EVALUATE_SECONDS) * 1000, what: 'the firing webhook' },
    );
    const firing = hooks[0];
    expect(firing && firing.at - firstFailure).toBeLessThanOrEqual(
      (WINDOW_SECONDS + EVALUATE_SECONDS) * 1000,
    );
    expect(verifySignature(secret, String(firing?.headers['meridian-signature']), firing?.body ?? '')).toBe(
      true,
    );
    expect(
      verifySignature('whsec_wrong', String(firing?.headers['meridian-signature']), firing?.body ?? ''),
    ).toBe(false);
    expect(JSON.parse(firing?.body ?? '{}')).toMatchObject({
      type: 'alert.firing',
      rule: { name: 'errors above 5%' },
    });
    // Still failing at 10%: no second notification while it keeps firing.
    await new Promise((r) => setTimeout(r, 4 * EVALUATE_SECONDS * 1000));
    expect(hooks).toHaveLength(1);

    // Errors stop: 400 good calls bring the window's rate to 20/600, under the threshold.
    const after: number[] = [];
    for (let i = 0; i < 400; i += 1) after.push(await call('tabular-a', key, good));
    // All 200s but for the odd call cut off if its replica is replaced meanwhile (other work in this tree).
    expect(after.filter((s) => s !== 200).length).toBeLessThanOrEqual(3);
    await waitUntil(
      async () => hooks.length,
      (n) => n >= 2,
      { timeoutMs: 60_000, what: 'the resolved webhook' },
    );
    await new Promise((r) => setTimeout(r, 4 * EVALUATE_SECONDS * 1000));
    expect(hooks.map((h) => (JSON.parse(h.body) as { type: string }).type)).toEqual([
      'alert.firing',
      'alert.resolved',
    ]);
    expect(
      verifySignature(secret, String(hooks[1]?.headers['meridian-signature']), hooks[1]?.body ?? ''),
    ).toBe(true);
    const log = await api(token, 'GET', `/v1/notification-channels/${channel.json.id}/deliveries`);
    expect((log.json.items as { status: string }[]).map((d) => d.status)).toEqual(['delivered', 'delivered']);
  }, 300_000);

  it('fires a spend rule after a known number of calls and mails the rule and its figure', async () => {
    const mailChannel = await api(token, 'POST', '/v1/notification-channels', {
      name: 'ops mail',
      kind: 'email',
      target: 'ops@example.com',
    });
    expect(mailChannel.status, mailChannel.text).toBe(201);
    const rule = await api(token, 'POST', '/v1/alert-rules', {
      name: 'spend watch',
      metric: 'spend_usd',
      windowSeconds: 60,
      threshold: 1_000_000,
      channelIds: [mailChannel.json.id],
    });
    expect(rule.status, rule.text).toBe(201);
    // What the period costs before: once every earlier call is billed, the rule's next evaluation.
    await waitUntil(
      async () => (await api(token, 'GET', '/v1/billing/stats')).json.calls.used as number,
      (used) => used === servedA,
      { timeoutMs: 30_000, what: 'the earlier calls billed' },
    );
    const billedAt = Date.now();
    const evaluated = await waitUntil(
      async () => (await api(token, 'GET', `/v1/alert-rules/${rule.json.id}`)).json,
      (r) => r.lastEvaluatedAt !== null && Date.parse(r.lastEvaluatedAt) > billedAt,
      { timeoutMs: 10_000, what: 'an evaluation after the billing' },
    );
    const before = evaluated.lastValue as number;
    // 100 calls cost $0.10; the rule fires at $0.05 above what was spent before them, i.e. after 50 of them.
    const threshold = Number(((before ?? 0) + 0.05).toFixed(4));
    const patched = await api(token, 'PATCH', `/v1/alert-rules/${rule.json.id}`, { threshold });
    expect(patched.status, patched.text).toBe(200);
    await new Promise((r) => setTimeout(r, 3 * EVALUATE_SECONDS * 1000));
    expect(mails).toHaveLength(0);
    for (let i = 0; i < 100; i += 1) expect(await call('tabular-a', key, good)).toBe(200);
    await waitUntil(
      async () => mails.length,
      (n) => n >= 1,
      { timeoutMs: 30_000, what: 'the spend mail' },
    );
    const mail = mails[0] ?? '';
    expect(mail).toContain('FIRING: spend watch');
    expect(mail).toContain(`spend_usd > ${threshold}`);
    const value = Number(mail.match(/Value: ([0-9.]+)/)?.[1]);
    // It fires once the calls are billed past the threshold: at least 50 of the 100 calls, at most all of them
    // (and whatever running time the replica was billed meanwhile).
    expect(value).toBeGreaterThan(threshold);
    expect(value).toBeLessThan((before ?? 0) + 0.1 + 0.02);
  }, 120_000);

  it("lets Prometheus scrape one org's series by name with its metrics key, and none of another org's", async () => {
    const regB = await api('', 'POST', '/v1/auth/register', {
      email: `mon-b-${Date.now()}@example.com`,
      password: 'correct horse battery',
      name: 'b',
    });
    tokenB = regB.json.accessToken;
    await deployMlp(tokenB, 'secret-model-b', 2);
    const keyB = (await api(tokenB, 'POST', '/v1/api-keys', { name: 'k', scopes: ['predict'] })).json.secret;
    await waitRouted('secret-model-b', keyB);
    for (let i = 0; i < 5; i += 1) expect(await call('secret-model-b', keyB, good)).toBe(200);

    const metricsKey = (await api(token, 'POST', '/v1/api-keys', { name: 'prom', scopes: ['metrics'] })).json
      .secret;
    const noScope = (await api(token, 'POST', '/v1/api-keys', { name: 'p', scopes: ['predict'] })).json
      .secret;
    expect((await fetch(`${cp?.url}/v1/metrics/prometheus`)).status).toBe(401);
    const refused = await fetch(`${cp?.url}/v1/metrics/prometheus`, {
      headers: { authorization: `Bearer ${noScope}` },
    });
    expect(refused.status).toBe(403);

    const promPort = await freePort();
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        'scrape_configs:',
        '  - job_name: meridian-org',
        '    metrics_path: /v1/metrics/prometheus',
        `    authorization: { type: Bearer, credentials: '${metricsKey}' }`,
        `    static_configs: [{ targets: ['127.0.0.1:${cp?.port}'] }]`,
        '',
      ].join('\n'),
    );
    prometheus = spawn(
      '/usr/bin/prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'tsdb')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      { stdio: 'ignore' },
    );
    const query = async (promql: string): Promise<PromResult> => {
      try {
        const res = await fetch(
          `http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(promql)}`,
        );
        return ((await res.json()) as { data: { result: PromResult } }).data.result;
      } catch {
        return [];
      }
    };
    // Org B's calls reach the control plane too, before the scrape is judged.
    await new Promise((r) => setTimeout(r, 3_000));
    await expect
      .poll(
        async () => {
          const [ok] = await query('meridian_deployment_requests_total{status_class="2xx"}');
          return ok?.metric.deployment;
        },
        { timeout: 60_000, interval: 1_000 },
      )
      .toBe('tabular-a');
    const all = await query('{job="meridian-org"}');
    const deploymentsSeen = new Set(all.map((r) => r.metric.deployment).filter(Boolean));
    expect([...deploymentsSeen]).toEqual(['tabular-a']);
    const value = async (promql: string) => Number((await query(promql))[0]?.value[1] ?? 0);
    await expect
      .poll(
        () =>
          value('meridian_deployment_requests_total{status_class="2xx",deployment="tabular-a",version="1"}'),
        {
          timeout: 30_000,
          interval: 1_000,
        },
      )
      .toBe(servedA);
    // Every call has its latency observed, the 20 refused ones too.
    expect(
      await value('meridian_deployment_request_duration_seconds_count{deployment="tabular-a"}'),
    ).toBeGreaterThanOrEqual(servedA + 20);

    // The unauthenticated platform endpoint names no tenant's deployment.
    const platform = await (await fetch(`${cp?.url}/metrics`)).text();
    expect(platform).toContain('meridian_cp_http_requests_total');
    for (const name of ['tabular-a', 'secret-model-b', deploymentId]) expect(platform).not.toContain(name);
  }, 180_000);

  it('reports drift on the one shifted column of an [N, 8] model, none for inputs from one distribution, and a drift rule fires', async () => {
    const shiftedId = await deployMlp(token, 'drift-shifted', 3);
    const steadyId = await deployMlp(token, 'drift-steady', 4);
    await waitRouted('drift-shifted', key);
    await waitRouted('drift-steady', key);
    const ROWS = 50;
    /** 2,000 rows in 40 calls of [50, 8]; column `shiftedColumn` (if any) from N(0.8, 1), the rest N(0, 1). */
    const feed = async (name: string, seed: number, shiftedColumn?: number) => {
      for (let c = 0; c < 40; c += 1) {
        const columns = Array.from({ length: 8 }, (_, j) =>
          normals(ROWS, j === shiftedColumn ? 0.8 : 0, seed * 1000 + c * 8 + j),
        );
        const data = Array.from({ length: ROWS * 8 }, (_, i) => columns[i % 8]?.[Math.floor(i / 8)] ?? 0);
        const body = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [ROWS, 8], data }] });
        // A loaded agent sheds a call with 503 + Retry-After; a client sends it again, as this one does.
        let status = await call(name, key, body);
        for (let retry = 0; status === 503 && retry < 5; retry += 1) {
          await new Promise((r) => setTimeout(r, 1_000));
          status = await call(name, key, body);
        }
        expect(status).toBe(200);
      }
    };
    const drift = async (id: string) =>
      (await api(token, 'GET', `/v1/deployments/${id}/drift`)).json as DriftAnswer;
    const referencesComplete = async (id: string) =>
      (await drift(id)).features.filter((f) => f.reference.complete).length;
    await feed('drift-shifted', 1);
    await feed('drift-steady', 2);
    for (const id of [shiftedId, steadyId]) {
      await expect.poll(() => referencesComplete(id), { timeout: 30_000, interval: 500 }).toBe(8);
    }
    const rule = await api(token, 'POST', '/v1/alert-rules', {
      name: 'inputs drift',
      metric: 'drift_score',
      deploymentId: shiftedId,
      windowSeconds: 3_600,
      threshold: 0.1,
      channelIds: [],
    });
    expect(rule.status, rule.text).toBe(201);
    await feed('drift-shifted', 3, 3);
    await feed('drift-steady', 4);
    // Every feature's window holds the second 2,000 rows (and whatever of the first the reference did not take).
    const windowed = async (id: string) => (await drift(id)).features.map((f) => f.windows[0]?.samples ?? 0);
    for (const id of [shiftedId, steadyId]) {
      await expect
        .poll(async () => Math.min(...(await windowed(id))), { timeout: 30_000, interval: 500 })
        .toBeGreaterThanOrEqual(2_000);
    }
    expect((await drift(shiftedId)).drifted).toEqual(['x[3]']);
    expect((await drift(steadyId)).drifted).toEqual([]);
    await expect
      .poll(async () => (await api(token, 'GET', `/v1/alert-rules/${rule.json.id}`)).json.state, {
        timeout: 15_000,
      })
      .toBe('firing');
  }, 240_000);
});
