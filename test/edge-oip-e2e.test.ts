import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { decodeResponse, encodeBinary, MeridianClient, predict } from '@meridian/sdk';
import * as ort from 'onnxruntime-node';
import { Agent, request, fetch as undiciFetch } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REAL_MODELS } from '../control-plane/src/onnx/test-models.js';
import { encodeModel, onnx } from '../gpu-agent/src/onnx/testing/graph.js';
import type { RunningAgent } from './helpers/agent-process.js';
import {
  edgeFetch,
  type RunningEdge,
  residentBytes,
  startEdgeProcess,
  workerdOf,
} from './helpers/edge-process.js';
import { jsonApi, startRegisteredAgent } from './helpers/platform.js';
import { freePort } from './helpers/ports.js';
import { type RunningControlPlane, startControlPlane } from './helpers/processes.js';
import { waitUntil } from './helpers/wait.js';

/** A string model: its input `text` (STRING, [n]) answered unchanged as `echo`. */
function buildStringEcho(): Uint8Array {
  const strings = (name: string) => ({
    name,
    type: {
      tensorType: { elemType: onnx.TensorProto.DataType.STRING, shape: { dim: [{ dimParam: 'n' }] } },
    },
  });
  return encodeModel({
    name: 'string-echo',
    input: [strings('text')],
    output: [strings('echo')],
    node: [{ opType: 'Identity', input: ['text'], output: ['echo'] }],
  });
}

const SHAPE = [1, 3, 48, 192];
const ELEMENTS = 3 * 48 * 192;
const MB = 1024 * 1024;
const BODY_LIMIT = 32 * MB;
const IHCL = 'inference-header-content-length';

type Session = { token: string; orgId: string };
type Checked = { status: number; headers: Headers; body: Uint8Array; json?: Record<string, unknown> };

/**
 * The edge in workerd (scripts/edge.mjs, as `npm start` runs it) in front of a real control plane and a
 * real agent serving the PaddleOCR classifier, called the way OIP clients call it: the requests
 * tritonclient's and KServe's v2 REST clients send (built here byte for byte, since neither Python package
 * is installed), from keep-alive clients: undici (its default Agent for the refused 20 MB bodies), Python's
 * urllib and requests.
 */
describe('the edge speaks OIP to its clients', () => {
  let dir = '';
  let cp: RunningControlPlane | undefined;
  let agent: RunningAgent | undefined;
  let edge: RunningEdge | undefined;
  let owner: Session;
  let key = '';
  let metricsUrl = '';
  let outputName = '';
  let expected: Float32Array;
  const input = Float32Array.from({ length: ELEMENTS }, (_, i) => Math.sin(i) * 0.5);

  const api = jsonApi(() => cp?.url ?? '');
  const register = async (name: string): Promise<Session> => {
    const res = await api('', 'POST', '/v1/auth/register', {
      email: `${name}-${Date.now()}@example.com`,
      password: 'correct horse battery',
      name,
    });
    expect(res.status, res.text).toBe(201);
    return { token: res.json.accessToken, orgId: res.json.org.id };
  };
  const createKey = async (s: Session, extra: Record<string, unknown> = {}) => {
    const res = await api(s.token, 'POST', '/v1/api-keys', { name: 'k', scopes: ['predict'], ...extra });
    expect(res.status, res.text).toBe(201);
    return res.json.secret as string;
  };

  /**
   * One call to the edge; every answer on /v2 is checked against what OIP clients rely on: an error body
   * is JSON with a string `error` (tritonclient concatenates it), a 2xx names `cls` and version `1`.
   */
  async function call(path: string, init: RequestInit & { headers?: Record<string, string> } = {}) {
    const res = await edgeFetch(`${edge?.url}${path}`, init);
    const checked: Checked = {
      status: res.status,
      headers: res.headers,
      body: new Uint8Array(await res.arrayBuffer()),
    };
    const jsonEnd = Number(res.headers.get(IHCL) ?? checked.body.byteLength);
    try {
      checked.json = JSON.parse(new TextDecoder().decode(checked.body.subarray(0, jsonEnd)));
    } catch {
      // Checked below for /v2 routes.
    }
    if (path.startsWith('/v2')) expectOipShape(path, checked);
    return checked;
  }

  function expectOipShape(path: string, res: Checked) {
    const what = `${path} → ${res.status} ${new TextDecoder().decode(res.body.subarray(0, 300))}`;
    expect(res.json, what).toBeTypeOf('object');
    if (res.status >= 300) {
      // OIP's string error, with the code and the request id beside it, whoever refused: the edge or the agent.
      expect(typeof res.json?.error, what).toBe('string');
      expect(typeof res.json?.code, what).toBe('string');
      expect(res.json?.requestId, what).toBe(res.headers.get('x-request-id'));
      return;
    }
    if (path.endsWith('/infer')) {
      expect(res.json?.model_name, what).toBe('cls');
      expect(res.json?.model_version, what).toBe('1');
    } else if (path.endsWith('/stats')) {
      const stats = res.json?.model_stats as { name: string; version: string }[];
      expect(
        stats.map((m) => [m.name, m.version]),
        what,
      ).toEqual([['cls', '1']]);
    } else if (path.startsWith('/v2/models/')) expect(res.json?.name, what).toBe('cls');
  }

  const auth = (secret = key) => ({ authorization: `Bearer ${secret}` });

  /**
   * Uploads `file` as model `name` version 1 through REST, deploys it under the same name on one CPU replica,
   * and resolves once the edge answers its readiness probe 200 to `secret`.
   */
  const deployThroughEdge = async (s: Session, secret: string, name: string, file: Uint8Array) => {
    const model = await api(s.token, 'POST', '/v1/models', { name });
    expect(model.status, model.text).toBe(201);
    const up = await fetch(`${cp?.url}/v1/models/${model.json.id}/versions?filename=${name}.onnx`, {
      method: 'POST',
      headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/octet-stream' },
      body: new Uint8Array(file),
    });
    expect(up.status, await up.text()).toBe(201);
    const deployment = await api(s.token, 'POST', '/v1/deployments', {
      name,
      model: model.json.id,
      version: 1,
      gpuType: 'cpu',
      minReplicas: 1,
      maxReplicas: 1,
    });
    expect(deployment.status, deployment.text).toBe(201);
    await waitUntil(
      async () => (await fetch(`${edge?.url}/v2/models/${name}/ready`, { headers: auth(secret) })).status,
      (status) => status === 200,
      { timeoutMs: 90_000, what: `the edge routes ${name} to a ready replica` },
    );
  };

  /** tritonclient's binary request: inputs as raw bytes after the JSON, outputs asked for as binary. */
  function tritonBinary(opts: { perOutput: boolean }) {
    const header = new TextEncoder().encode(
      JSON.stringify({
        inputs: [
          {
            name: 'x',
            shape: SHAPE,
            datatype: 'FP32',
            parameters: { binary_data_size: input.byteLength },
          },
        ],
        ...(opts.perOutput
          ? { outputs: [{ name: outputName, parameters: { binary_data: true } }] }
          : { parameters: { binary_data_output: true } }),
      }),
    );
    const body = new Uint8Array(header.byteLength + input.byteLength);
    body.set(header, 0);
    body.set(new Uint8Array(input.buffer), header.byteLength);
    return { body, headerLength: header.byteLength };
  }

  const jsonRequest = (extra: Record<string, unknown> = {}) =>
    JSON.stringify({ inputs: [{ name: 'x', shape: SHAPE, datatype: 'FP32', data: [...input] }], ...extra });

  function expectClassified(values: ArrayLike<number>) {
    expect(values.length).toBe(expected.length);
    for (let i = 0; i < expected.length; i++) expect(values[i]).toBeCloseTo(expected[i] as number, 5);
  }

  /** The agent's inference counters for the model, successes and failures: they move only when it is called. */
  async function agentInferences(): Promise<number> {
    const text = await (await fetch(metricsUrl)).text();
    return [...text.matchAll(/^nv_inference_request_(?:success|failure)\{[^}]*\} (\d+)/gm)].reduce(
      (n, m) => n + Number(m[1]),
      0,
    );
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edge-oip-'));
    cp = await startControlPlane({
      dataDir: join(dir, 'cp'),
      env: {
        MERIDIAN_AGENT_HEARTBEAT_SECONDS: '1',
        MERIDIAN_SCHEDULER_INTERVAL_MS: '250',
        MERIDIAN_LOG_LEVEL: 'warn',
      },
    });
    const metricsPort = await freePort();
    metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    agent = await startRegisteredAgent(cp.url, join(dir, 'cp'), join(dir, 'agent'), {
      MERIDIAN_AGENT_METRICS_LISTEN: `127.0.0.1:${metricsPort}`,
    });
    edge = await startEdgeProcess({
      MERIDIAN_DATA_DIR: join(dir, 'cp'),
      MERIDIAN_EDGE_STATE_DIR: join(dir, 'edge'),
      MERIDIAN_EDGE_PORT: String(await freePort()),
      MERIDIAN_EDGE_CONTROL_PLANE_URL: cp.url,
      MERIDIAN_EDGE_VAR_KEY_CACHE_SECONDS: '1',
      MERIDIAN_EDGE_VAR_KEY_KV_FRESH_SECONDS: '1',
      MERIDIAN_EDGE_VAR_ROUTING_REFRESH_SECONDS: '1',
    });
    owner = await register('oip');
    key = await createKey(owner);
    await deployThroughEdge(owner, key, 'cls', readFileSync(REAL_MODELS.paddleCls));
    const session = await ort.InferenceSession.create(REAL_MODELS.paddleCls);
    outputName = session.outputNames[0] as string;
    const out = await session.run({ x: new ort.Tensor('float32', input, SHAPE) });
    expected = (out[outputName] as ort.Tensor).data as Float32Array;
  }, 180_000);

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail')
      console.error(`--- edge log (tail) ---\n${edge?.logs().slice(-6_000)}`);
  });

  afterAll(async () => {
    await edge?.stop();
    await agent?.stop();
    await cp?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers the server and model calls tritonclient and the KServe client make, by name and version number', async () => {
    expect((await call('/v2/health/live')).json).toEqual({ live: true });
    expect((await call('/v2/health/ready')).status).toBe(200);
    expect((await call('/v2')).json?.extensions).toContain('binary_tensor_data');
    for (const base of ['/v2/models/cls', '/v2/models/cls/versions/1']) {
      const meta = await call(base, { headers: auth() });
      expect(meta.status).toBe(200);
      expect(meta.json?.versions).toEqual(['1']);
      const ready = await call(`${base}/ready`, { headers: auth() });
      expect(ready.status).toBe(200);
      expect(ready.json?.ready).toBe(true);
    }
  }, 60_000);

  it("answers tritonclient's statistics call with the replicas' figures, by name and version number", async () => {
    expect((await call('/v2')).json?.extensions).toContain('statistics');
    type Stat = {
      inference_count: number;
      last_inference: number;
      inference_stats: Record<string, { count: number; ns: number }>;
    };
    const stats = async (path: string) => {
      const res = await call(path, { headers: auth() });
      expect(res.status).toBe(200);
      return (res.json?.model_stats as Stat[] | undefined)?.[0] as Stat;
    };
    const before = await stats('/v2/models/cls/stats');
    const started = Date.now();
    for (let i = 0; i < 3; i++) {
      const res = await call('/v2/models/cls/infer', {
        method: 'POST',
        headers: auth(),
        body: jsonRequest(),
      });
      expect(res.status).toBe(200);
    }
    const after = await stats('/v2/models/cls/versions/1/stats');
    expect(after.inference_count - before.inference_count).toBe(3);
    const success = (s: Stat) => s.inference_stats.success as { count: number; ns: number };
    expect(success(after).count - success(before).count).toBe(3);
    expect(success(after).ns).toBeGreaterThan(success(before).ns);
    expect(after.last_inference).toBeGreaterThanOrEqual(started);

    // Another org's key, a version that is not served, no key: OIP errors, nothing of the model's figures.
    const stranger = await createKey(await register('stats-stranger'));
    const refused = [
      await call('/v2/models/cls/stats', { headers: auth(stranger) }),
      await call('/v2/models/cls/versions/9/stats', { headers: auth() }),
      await call('/v2/models/cls/stats'),
    ];
    expect(refused.map((r) => r.status)).toEqual([404, 404, 401]);
  }, 60_000);

  it('serves JSON infer calls on the model and version paths, plain and gzip-encoded', async () => {
    for (const path of ['/v2/models/cls/infer', '/v2/models/cls/versions/1/infer']) {
      // KServe's client sends an id and a JSON content type; tritonclient sends neither.
      for (const [headers, body] of [
        [{ ...auth(), 'content-type': 'application/json' }, jsonRequest({ id: 'kserve-1' })],
        [auth(), jsonRequest()],
        [{ ...auth(), 'content-encoding': 'gzip' }, gzipSync(jsonRequest())],
      ] as const) {
        const res = await call(path, {
          method: 'POST',
          headers: { ...headers, 'x-request-id': 'trace-7' },
          body,
        });
        expect(res.status).toBe(200);
        // The answer streamed through from the agent still carries the caller's request id.
        expect(res.headers.get('x-request-id')).toBe('trace-7');
        const outputs = res.json?.outputs as { name: string; data: number[] }[];
        expectClassified(outputs[0]?.data ?? []);
      }
    }
  }, 60_000);

  it('serves binary-extension calls, renaming only the JSON header and fixing its length', async () => {
    for (const perOutput of [true, false]) {
      for (const path of ['/v2/models/cls/infer', '/v2/models/cls/versions/1/infer']) {
        const { body, headerLength } = tritonBinary({ perOutput });
        const res = await call(path, {
          method: 'POST',
          headers: {
            ...auth(),
            'content-type': 'application/octet-stream',
            [IHCL]: String(headerLength),
          },
          body,
        });
        expect(res.status).toBe(200);
        expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
        const jsonEnd = Number(res.headers.get(IHCL));
        const outputs = res.json?.outputs as { name: string; parameters: { binary_data_size: number } }[];
        const size = outputs[0]?.parameters.binary_data_size ?? 0;
        expect(res.body.byteLength).toBe(jsonEnd + size);
        expectClassified(new Float32Array(res.body.slice(jsonEnd, jsonEnd + size).buffer));
      }
    }
  }, 60_000);

  it('serves a string (BYTES) model to the SDK in JSON and binary form, elements as sent', async () => {
    // An org of its own: the Free plan's one model is the classifier in the shared one.
    const tenant = await register('strings');
    const secret = await createKey(tenant);
    await deployThroughEdge(tenant, secret, 'echo', buildStringEcho());
    const client = new MeridianClient({ baseUrl: cp?.url ?? '', edgeUrl: edge?.url ?? '', apiKey: secret });
    // An empty element, non-ASCII text, and one longer than 255 bytes (its length needs a second byte).
    const text = ['', 'héllo wörld ✓', 'x'.repeat(300)];
    const bytes = [new TextEncoder().encode('raw bytes'), 'mixed with text'];
    for (const binary of [false, true]) {
      const answer = await predict(
        client,
        'echo',
        [{ name: 'text', datatype: 'BYTES', shape: [3], data: text }],
        {
          binary,
        },
      );
      expect(answer.model_name).toBe('echo');
      expect(answer.outputs).toEqual([{ name: 'echo', datatype: 'BYTES', shape: [3], data: text }]);
      const mixed = await predict(
        client,
        'echo',
        [{ name: 'text', datatype: 'BYTES', shape: [2], data: bytes }],
        {
          binary,
        },
      );
      expect(mixed.outputs[0]?.data).toEqual(['raw bytes', 'mixed with text']);
    }
    // What binary: true sends asks for the answer in binary too: elements after the JSON header.
    const { body, headers } = encodeBinary([{ name: 'text', datatype: 'BYTES', shape: [3], data: text }]);
    const raw = await fetch(`${edge?.url}/v2/models/echo/infer`, {
      method: 'POST',
      headers: { ...auth(secret), ...headers },
      body: Buffer.from(body),
    });
    expect(raw.status).toBe(200);
    const headerLength = raw.headers.get(IHCL);
    const answer = new Uint8Array(await raw.arrayBuffer());
    expect(Number(headerLength)).toBeLessThan(answer.byteLength);
    expect(decodeResponse(answer, headerLength).outputs[0]?.data).toEqual(text);
  }, 120_000);

  it('accepts the deployment name at /v1/deployments/{id or name}/predict', async () => {
    const nested = [
      Array.from({ length: 3 }, (_, c) =>
        Array.from({ length: 48 }, (_, y) =>
          Array.from({ length: 192 }, (_, x) => input[c * 48 * 192 + y * 192 + x]),
        ),
      ),
    ];
    const res = await call('/v1/deployments/cls/predict', {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: { x: nested } }),
    });
    expect(res.status, new TextDecoder().decode(res.body)).toBe(200);
    expect(res.json?.version).toBe(1);
    const outputs = (res.json?.outputs ?? {}) as Record<string, number[][]>;
    expectClassified(outputs[outputName]?.[0] ?? []);

    // An input the model cannot take: the agent's reason, in the edge's envelope on this non-OIP route.
    const bad = await call('/v1/deployments/cls/predict', {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: { x: [[1, 2, 3]] } }),
    });
    expect(bad.status).toBe(400);
    const envelope = bad.json?.error as { code: string; message: string; requestId: string };
    expect(envelope.code).toBe('bad_request');
    expect(envelope.requestId).toBe(bad.headers.get('x-request-id'));
  }, 60_000);

  it('answers every /v2 error with a string error, and refuses bad input before forwarding it', async () => {
    const stranger = await register('stranger');
    const strangerKey = await createKey(stranger);
    const scoped = await createKey(owner, { scopes: ['predict:other'] });
    const limited = await createKey(owner, { rateLimits: [{ name: 'one', limit: 1, periodSeconds: 3600 }] });
    const suspended = await register('suspended');
    const suspendedKey = await createKey(suspended);
    const operator = (await readFile(join(dir, 'cp', 'operator-token'), 'utf8')).trim();
    const put = await api(operator, 'PUT', `/internal/v1/orgs/${suspended.orgId}/standing`, {
      suspended: true,
      reason: 'unpaid invoice',
    });
    expect(put.status, put.text).toBe(200);
    const json = (secret: string, extra: Record<string, string> = {}) => ({
      method: 'POST',
      headers: { ...auth(secret), 'content-type': 'application/json', ...extra },
      body: jsonRequest(),
    });

    const refusals: [string, string, RequestInit & { headers?: Record<string, string> }, number][] = [
      ['no credential', '/v2/models/cls/infer', { method: 'POST', body: jsonRequest() }, 401],
      ['a bad key', '/v2/models/cls/infer', json('mk_live_not_a_real_key_at_all_000000'), 401],
      ["another org's model", '/v2/models/cls/infer', json(strangerKey), 404],
      ['an unknown model', '/v2/models/nope/infer', json(key), 404],
      ['an unknown version', '/v2/models/cls/versions/9/infer', json(key), 404],
      ['an unknown route under /v2', '/v2/models/cls/explain', json(key), 404],
      ['metadata without a key', '/v2/models/cls', {}, 401],
      ['a key scoped to another deployment', '/v2/models/cls/infer', json(scoped), 403],
      ['an IHCL past the end of the body', '/v2/models/cls/infer', json(key, { [IHCL]: '99999999' }), 400],
      ['a negative IHCL', '/v2/models/cls/infer', json(key, { [IHCL]: '-5' }), 400],
      ['an IHCL that is not a number', '/v2/models/cls/infer', json(key, { [IHCL]: 'twelve' }), 400],
      ['a brotli body', '/v2/models/cls/infer', json(key, { 'content-encoding': 'br' }), 415],
      ['huge headers', '/v2/models/cls/infer', json(key, { 'x-pad': 'a'.repeat(40_000) }), 431],
      [
        'an Idempotency-Key with a space',
        '/v2/models/cls/infer',
        json(key, { 'idempotency-key': 'a b' }),
        400,
      ],
      [
        'a 256-character Idempotency-Key',
        '/v2/models/cls/infer',
        json(key, { 'idempotency-key': 'k'.repeat(256) }),
        400,
      ],
    ];
    const before = await agentInferences();
    // The counters are read right: the calls of the tests before are in them.
    expect(before).toBeGreaterThan(0);
    for (const [what, path, init, status] of refusals) {
      const res = await call(path, init);
      expect(res.status, what).toBe(status);
    }
    // None of these reached the agent.
    expect(await agentInferences()).toBe(before);

    // Refusals that take a moment: the limit of one call, and a suspension the edge learns within its bound.
    expect((await call('/v2/models/cls/infer', json(limited))).status).toBe(200);
    const limitedAgain = await call('/v2/models/cls/infer', json(limited));
    expect(limitedAgain.status).toBe(429);
    expect(limitedAgain.headers.get('retry-after')).toMatch(/^\d+$/);
    await waitUntil(
      async () => (await call('/v2/models/cls/infer', json(suspendedKey))).status,
      (status) => status === 402,
      { timeoutMs: 15_000, what: 'the suspension reaches the edge' },
    );

    // Errors the agent finds (a shape the model cannot take, a body that is not JSON): still OIP's shape.
    const wrongShape = await call('/v2/models/cls/infer', {
      ...json(key),
      body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] }),
    });
    expect(wrongShape.status).toBe(400);
    expect(wrongShape.json?.code).toBe('bad_request');
    expect((await call('/v2/models/cls/infer', { ...json(key), body: '{"inputs": [' })).status).toBe(400);
  }, 60_000);

  it('answers 20 MB bodies it refuses to undici, urllib and requests clients, 5 of 5 undici runs', async () => {
    const stranger = await register('big-stranger');
    const strangerKey = await createKey(stranger);
    const body = new Uint8Array(20 * MB);
    const cases = [
      ['an unknown model', '/v2/models/nope/infer', key, 404],
      ['a bad key', '/v2/models/cls/infer', 'mk_live_not_a_real_key_at_all_000000', 401],
      ["another org's model", '/v2/models/cls/infer', strangerKey, 404],
    ] as const;
    // undici's defaults: one keep-alive agent, connections reused across the runs.
    const dispatcher = new Agent();
    const got: string[] = [];
    for (let run = 0; run < 5; run++) {
      for (const [what, path, secret, status] of cases) {
        const res = await undiciFetch(`${edge?.url}${path}`, {
          method: 'POST',
          headers: { ...auth(secret), 'content-type': 'application/json' },
          body,
          dispatcher,
        });
        const answer = (await res.json()) as { error: unknown };
        expect(res.status, what).toBe(status);
        expect(typeof answer.error, what).toBe('string');
        got.push(`${res.status}`);
      }
    }
    await dispatcher.close();
    expect(got).toHaveLength(15);

    // Python's urllib and requests (Debian's python3) send the whole body before they read the answer;
    // requests keeps its session's connection alive across calls.
    const python = await promisify(execFile)(
      '/usr/bin/python3',
      [
        '-c',
        `import json, sys, urllib.request, urllib.error, requests
cases, base, body = json.loads(sys.argv[1]), sys.argv[2], bytes(20 * 1024 * 1024)
for path, key in cases:
    req = urllib.request.Request(base + path, data=body, method='POST', headers={'Authorization': 'Bearer ' + key})
    try:
        urllib.request.urlopen(req, timeout=60)
        print('urllib', 200)
    except urllib.error.HTTPError as e:
        print('urllib', e.code, isinstance(json.loads(e.read())['error'], str))
with requests.Session() as session:
    for run in range(2):
        for path, key in cases:
            r = session.post(base + path, data=body, headers={'Authorization': 'Bearer ' + key}, timeout=60)
            print('requests', r.status_code, isinstance(r.json()['error'], str))`,
        JSON.stringify(cases.map(([, path, secret]) => [path, secret])),
        edge?.url ?? '',
      ],
      { encoding: 'utf8', timeout: 150_000, maxBuffer: 1024 * 1024 },
    );
    expect(python.stderr).toBe('');
    const statuses = cases.map(([, , , status]) => `${status} True`);
    expect(python.stdout.trim().split('\n')).toEqual([
      ...statuses.map((s) => `urllib ${s}`),
      ...[...statuses, ...statuses].map((s) => `requests ${s}`),
    ]);
  }, 240_000);

  it('refuses a 300 MB chunked body with 413 while workerd grows by less than 40 MB', async () => {
    const workerd = workerdOf(edge ?? { pid: 0 });
    const dispatcher = new Agent();
    const upload = async (bytes: number) => {
      let sent = 0;
      const piece = Buffer.alloc(64 * 1024);
      // No Content-Length: undici sends a stream chunked.
      const body = new Readable({
        read() {
          if (sent >= bytes) return void this.push(null);
          sent += piece.byteLength;
          this.push(piece);
        },
      });
      const res = await request(`${edge?.url}/v2/models/cls/infer`, {
        method: 'POST',
        headers: { ...auth(), 'content-type': 'application/json' },
        body,
        dispatcher,
      });
      return { status: res.statusCode, answer: (await res.body.json()) as { error: unknown }, sent };
    };
    // Warm: the path has run once (a 2 MB body, not JSON: the agent refuses it).
    expect((await upload(2 * MB)).status).toBe(400);

    const before = residentBytes(workerd);
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, residentBytes(workerd));
    }, 5);
    const big = await upload(300 * MB).finally(() => clearInterval(sampler));
    peak = Math.max(peak, residentBytes(workerd));
    await dispatcher.close();

    expect(big.status).toBe(413);
    expect(typeof big.answer.error).toBe('string');
    const rise = (peak - before) / MB;
    console.info(
      `300 MB chunked body: 413 after the client sent ${(big.sent / MB).toFixed(0)} MB; workerd RSS ${(before / MB).toFixed(0)} → peak ${(peak / MB).toFixed(0)} MB (+${rise.toFixed(1)} MB, body limit ${BODY_LIMIT / MB} MB)`,
    );
    expect(rise).toBeLessThan(40);
  }, 120_000);
});
