import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  execInContainer,
  startTestDockerEngine,
  type TestDockerEngine,
} from '../gpu-agent/src/runtimes/testing/docker-engine.js';
import { jsonApi } from './helpers/platform.js';
import { type Stack, startStack } from './helpers/stack.js';

const run = promisify(execFile);
const IMAGE = 'meridian-test/linear-oip:1';
/** The tenant's model: y = x W + b with 3 inputs and 2 outputs, pickled as scikit-learn files are. */
const WEIGHTS = [
  [1, 2],
  [3, 4],
  [5, 6],
];
const BIAS = [0.5, -1];
const linear = (x: number[]) =>
  BIAS.map((b, j) => x.reduce((sum, xi, i) => sum + xi * (WEIGHTS[i]?.[j] ?? 0), b));

/**
 * A model in a format the onnx runtime cannot load (a pickle), served the way the README says: through a
 * custom model-server image speaking OIP v2 (scripts/test-images/linear_oip_server.py, a tenant's own code)
 * that the docker runtime runs in a hardened container on its org's network. The agent hands the container
 * its model file on disk (the network reaches no storage) and relays the deployment's calls to it; the edge
 * names the answer as the caller did, and each 200 is billed once.
 */
describe('a custom model-server image, deployed and called through the edge', () => {
  let engine: TestDockerEngine | undefined;
  let stack: Stack | undefined;
  let token = '';
  let apiKey = '';
  let deploymentId = '';
  const call = jsonApi(() => stack?.cp.url ?? '');
  const api = (method: string, path: string, body?: unknown) => call(token, method, path, body);
  /** 200s the tests received: what the ledger must hold, no more and no less. */
  let answered = 0;
  const infer = async (body: string, timeoutMs = 20_000) => {
    const res = await fetch(`${stack?.edge.url}/v2/models/linear/infer`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (res.status === 200) answered++;
    return res;
  };
  const request = (rows: number[][]) =>
    JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [rows.length, 3], data: rows.flat() }] });
  /** The deployment's containers the engine lists as running. */
  const containers = async () =>
    (await engine?.docker.listContainers({
      filters: { label: [`meridian.deployment=${deploymentId}`] },
    })) ?? [];
  /** Calls billed for the deployment in the ledger, as GET /v1/billing/usage reports them. */
  const billedCalls = async () => {
    const res = await api('GET', '/v1/billing/usage?groupBy=deployment');
    const lines = res.json.lines as { meter: string; rawQuantity: number }[];
    return lines.filter((l) => l.meter === 'inference_calls').reduce((n, l) => n + l.rawQuantity, 0);
  };

  beforeAll(async () => {
    engine = await startTestDockerEngine();
    await run(
      resolve(import.meta.dirname, '../scripts/build-model-server-test-image.sh'),
      [`unix://${engine.socketPath}`],
      { timeout: 600_000 },
    );
    stack = await startStack(
      'custom-model-server-e2e',
      // An agent restart (tsx compiling it) takes longer than three 1 s heartbeats; the host is not lost then.
      { MERIDIAN_AGENT_HEARTBEAT_TIMEOUT_SECONDS: '60' },
      {},
      {
        MERIDIAN_AGENT_DOCKER_HOST: `unix://${engine.socketPath}`,
        MERIDIAN_AGENT_HEARTBEAT_SECONDS: '1',
        MERIDIAN_AGENT_PREDICTION_USAGE_INTERVAL_MS: '1000',
        // The agent's default: its restart leaves the model server running (afterAll removes the containers).
        MERIDIAN_AGENT_ON_STOP: 'keep-workloads',
      },
    );
    const reg = await api('POST', '/v1/auth/register', {
      email: 'custom-server@example.com',
      password: 'correct horse battery',
      name: 'custom-server',
    });
    token = reg.json.accessToken;
    expect((await api('POST', '/v1/allowed-images', { image: IMAGE })).status).toBe(201);
    const model = await api('POST', '/v1/models', { name: 'linear' });
    const { stdout: pickled } = await run(
      'python3',
      [
        '-c',
        'import pickle,sys,json; sys.stdout.buffer.write(pickle.dumps(json.loads(sys.argv[1])))',
        JSON.stringify({ weights: WEIGHTS, bias: BIAS }),
      ],
      { encoding: 'buffer' },
    );
    const upload = await fetch(`${stack.cp.url}/v1/models/${model.json.id}/versions?filename=linear.pkl`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
      body: pickled,
    });
    expect(upload.status, await upload.clone().text()).toBe(201);
    const created = await api('POST', '/v1/deployments', {
      name: 'linear',
      model: 'linear',
      version: 1,
      image: IMAGE,
      gpuType: 'cpu',
    });
    expect(created.status, created.text).toBe(201);
    expect(created.json.runtime).toBe('container');
    deploymentId = created.json.id;
    const key = await api('POST', '/v1/api-keys', { name: 'predict', scopes: ['predict'] });
    apiKey = key.json.secret;
  }, 660_000);

  afterAll(async () => {
    await stack?.stop();
    try {
      // The agent leaves its containers to the engine (a restarted agent adopts them): remove them here.
      for (const info of (await engine?.docker.listContainers({ all: true })) ?? [])
        await engine?.docker.getContainer(info.Id).remove({ force: true });
    } finally {
      await engine?.stop();
    }
  }, 120_000);

  it('becomes ready, answers predictions with the model the tenant uploaded, and names them as called', async () => {
    const ready = async () => {
      const d = (await api('GET', `/v1/deployments/${deploymentId}`)).json;
      return d.status === 'ready' ? 'ready' : `${d.status}: ${d.statusReason ?? ''}`;
    };
    await expect.poll(ready, { timeout: 120_000, interval: 500 }).toBe('ready');

    const rows = [
      [1, 0, 0],
      [0.5, -2, 3],
    ];
    // The edge's routing refreshes every second: the first calls may still find no replica.
    const first = async () => (await infer(request(rows))).status;
    await expect.poll(first, { timeout: 20_000, interval: 500 }).toBe(200);
    const res = await infer(request(rows));
    expect(res.status).toBe(200);
    const answer = (await res.json()) as {
      model_name: string;
      model_version: string;
      outputs: { name: string; shape: number[]; data: number[] }[];
    };
    expect(answer.model_name).toBe('linear');
    expect(answer.model_version).toBe('1');
    expect(answer.outputs.map((o) => [o.name, o.shape])).toEqual([['y', [2, 2]]]);
    const expected = rows.flatMap(linear);
    answer.outputs[0]?.data.forEach((y, i) => {
      expect(y).toBeCloseTo(expected[i] ?? Number.NaN, 5);
    });

    const metadata = await fetch(`${stack?.edge.url}/v2/models/linear`, {
      headers: { authorization: `Bearer ${apiKey}` },
    });
    expect(metadata.status).toBe(200);
    expect(await metadata.json()).toMatchObject({ name: 'linear', inputs: [{ name: 'x', shape: [-1, 3] }] });

    // The simple JSON route too: the edge reads the input's datatype from the server's own metadata.
    const simple = await fetch(`${stack?.edge.url}/v1/deployments/linear/predict`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: { x: [[1, 0, 0]] } }),
    });
    expect(simple.status, await simple.clone().text()).toBe(200);
    answered++;
    expect(await simple.json()).toEqual({ outputs: { y: [linear([1, 0, 0])] }, version: 1 });
  }, 180_000);

  it("passes the model server's own refusal of bad input on as OIP's error, and bills only the 200s", async () => {
    const wrongWidth = await infer(
      JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1, 2] }] }),
    );
    expect(wrongWidth.status).toBe(400);
    expect((await wrongWidth.json()).error).toBe("input 'x' must have shape [batch, 3], got [1, 2]");
    const notJson = await infer('not json');
    expect(notJson.status).toBe(400);
    expect((await notJson.json()).error).toMatch(/not JSON/);

    const served = 5;
    for (let i = 0; i < served; i++) expect((await infer(request([[i, i, i]]))).status).toBe(200);
    await expect.poll(billedCalls, { timeout: 30_000, interval: 500 }).toBe(answered);
    expect(answered).toBeGreaterThanOrEqual(served + 2);
  }, 60_000);

  it('gives the container its own read-only copy of the model file, and no address to fetch it from', async () => {
    const [container] =
      (await engine?.docker.listContainers({
        filters: { label: [`meridian.deployment=${deploymentId}`] },
      })) ?? [];
    expect(container?.Image).toBe(IMAGE);
    const probe = [
      'import os, json, stat',
      'p = os.environ["MERIDIAN_MODEL_PATH"]',
      's = os.stat(p)',
      'print(json.dumps({"path": p, "mode": oct(stat.S_IMODE(s.st_mode)), "mine": s.st_uid == os.getuid(),',
      '  "writable": os.access(p, os.W_OK), "url": "MERIDIAN_MODEL_URL" in os.environ}))',
      'try:',
      '  open(p, "ab")',
      'except OSError as e:',
      '  print("append refused:", e.strerror)',
    ].join('\n');
    const { output, exitCode } = await execInContainer(engine?.docker as never, container?.Id ?? '', [
      'python3',
      '-c',
      probe,
    ]);
    expect(exitCode, output).toBe(0);
    const [facts, refused] = output.trim().split('\n');
    expect(JSON.parse(facts ?? '')).toEqual({
      path: '/meridian/model/model',
      mode: '0o400',
      mine: true,
      writable: false,
      url: false,
    });
    expect(refused).toMatch(/^append refused: (Permission denied|Read-only file system)$/);
  }, 60_000);

  it('replaces a replica whose container exits after it was ready, says why, and serves again', async () => {
    const [crashed] = await containers();
    expect(crashed?.State).toBe('running');
    // A keep-alive connection from the agent to it, on which the edge's calls are relayed.
    expect((await infer(request([[1, 0, 0]]))).status).toBe(200);
    // What the kernel does to a server over its memory limit.
    await engine?.docker.getContainer(crashed?.Id ?? '').kill({ signal: 'SIGKILL' });
    // Calls made while the crash is not yet known (the agent's exit check, the control plane's routing)
    // and while the replacement starts: held at the edge until it serves, never answered with an error.
    const duringCrash = [0, 500, 1_500].map(async (afterMs, i) => {
      await new Promise((r) => setTimeout(r, afterMs));
      const answer = await infer(request([[i, 1, 2]]), 60_000);
      return { status: answer.status, body: await answer.text(), expected: linear([i, 1, 2]) };
    });

    type Event = { type: string; message: string };
    const events = async () =>
      (await api('GET', `/v1/deployments/${deploymentId}/events`)).json.items as Event[];
    const failure = async () => (await events()).find((e) => e.type === 'replica_failed')?.message ?? '';
    await expect.poll(failure, { timeout: 30_000, interval: 500 }).toMatch(/exited after it was ready/);
    expect(await failure()).toMatch(
      new RegExp(
        `${IMAGE} for linear v1 \\(deployment ${deploymentId}\\) \\(\\w{12}\\) exited after it was ready with code 137`,
      ),
    );
    // Replaced after the backoff a failed start gets (1 s for a first attempt).
    const kinds = async () => (await events()).map((e) => e.type);
    await expect.poll(kinds, { timeout: 30_000, interval: 500 }).toContain('replica_retry');

    // A new container, not the old one restarted; the edge routes to it once it is ready.
    const replaced = async () =>
      (await containers()).filter((c) => c.State === 'running' && c.Id !== crashed?.Id).length;
    await expect.poll(replaced, { timeout: 60_000, interval: 500 }).toBe(1);
    for (const call of await Promise.all(duringCrash)) {
      expect(call.status, call.body).toBe(200);
      expect((JSON.parse(call.body) as { outputs: { data: number[] }[] }).outputs[0]?.data).toEqual(
        call.expected,
      );
    }
    // One call, no retry: the failed replica has left the edge's routing, and the new one serves.
    expect((await infer(request([[1, 2, 3]]))).status).toBe(200);
    expect((await api('GET', `/v1/deployments/${deploymentId}`)).json.status).toBe('ready');
    await expect.poll(billedCalls, { timeout: 30_000, interval: 500 }).toBe(answered);
  }, 150_000);

  it('keeps serving from the same container through an agent restart, never starting it again', async () => {
    const [serving] = await containers();
    const startedAt = async () =>
      (await engine?.docker.getContainer(serving?.Id ?? '').inspect())?.State.StartedAt;
    const before = await startedAt();

    // Calls keep coming while the agent is down (connections refused) and while it takes the container
    // back: each is held at the edge until the agent serves again, none is answered with an error.
    const restarting = stack?.restartAgent();
    let restarted = false;
    void restarting?.finally(() => {
      restarted = true;
    });
    const duringRestart: Promise<{ status: number; body: string }>[] = [];
    for (let i = 0; !restarted && i < 100; i++) {
      duringRestart.push(
        infer(request([[i, 0, 1]]), 60_000).then(async (r) => ({ status: r.status, body: await r.text() })),
      );
      await new Promise((r) => setTimeout(r, 300));
    }
    const agentLog = await restarting;
    expect(duringRestart.length).toBeGreaterThan(3);
    for (const call of await Promise.all(duringRestart)) expect(call.status, call.body).toBe(200);
    await expect
      .poll(() => agentLog?.(), { timeout: 60_000 })
      .toMatch(/"msg":"workload ready".*"adopted":"taken-back"/);
    expect((await containers()).map((c) => c.Id)).toEqual([serving?.Id]);
    expect(await startedAt()).toBe(before);
    // One call, answered by the container the agent took back.
    const answer = await infer(request([[2, 0, 1]]));
    expect(answer.status).toBe(200);
    const { outputs } = (await answer.json()) as { outputs: { data: number[] }[] };
    expect(outputs[0]?.data).toEqual(linear([2, 0, 1]));
    expect((await api('GET', `/v1/deployments/${deploymentId}`)).json.status).toBe('ready');
    await expect.poll(billedCalls, { timeout: 30_000, interval: 500 }).toBe(answered);
  }, 180_000);

  it('stays up while it is called and scales to zero only once the calls stop, like an onnx deployment', async () => {
    // In use when its limits change, as a deployment being given scale to zero is: the earlier tests left it
    // idle for a while, and an idle replica is scaled to zero as soon as it may be.
    for (let i = 0; i < 4; i++) {
      expect((await infer(request([[1, 1, 1]]))).status).toBe(200);
      await new Promise((r) => setTimeout(r, 250));
    }
    const patched = await api('PATCH', `/v1/deployments/${deploymentId}`, {
      minReplicas: 0,
      scaleToZeroAfterSeconds: 3,
    });
    expect(patched.status, patched.text).toBe(200);
    const desired = async () =>
      (await api('GET', `/v1/deployments/${deploymentId}`)).json.desiredReplicas as number;
    // Twice the idle limit of steady calls: the replica's relayed calls are its load, so it is never idle.
    const targets = new Set<number>();
    const until = Date.now() + 7_000;
    while (Date.now() < until) {
      expect((await infer(request([[1, 1, 1]]))).status).toBe(200);
      targets.add(await desired());
      await new Promise((r) => setTimeout(r, 250));
    }
    expect([...targets]).toEqual([1]);
    await expect.poll(desired, { timeout: 20_000, interval: 250 }).toBe(0);
    // A call wakes it: held at the edge while the container starts, then answered.
    expect((await infer(request([[1, 1, 1]]))).status).toBe(200);
    await expect.poll(billedCalls, { timeout: 30_000, interval: 500 }).toBe(answered);
  }, 120_000);
});
