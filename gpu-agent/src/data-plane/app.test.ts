import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type DurationStat,
  decodeInferResponse,
  encodeInferRequest,
  type ModelStat,
  type Tensor,
} from '@meridian/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModelSession, type ModelSession } from '../onnx/session.js';
import { writeMlp } from '../onnx/testing/mlp.js';
import { REAL_MODELS } from '../onnx/testing/models.js';
import { createDataPlaneApp, type DataPlaneDeps } from './app.js';
import { createDataPlaneListener } from './listener.js';
import { InferenceMetrics } from './metrics.js';
import { serveModel, staticRegistry } from './models.js';
import { edgeHeaders, listen } from './testing/server.js';

const KEY = new TextEncoder().encode('s'.repeat(32));
const DEP = 'dep_test';
const batching = { maxBatchSize: 32, maxQueueDelayUs: 0, maxQueueSize: 128, timeoutMs: 10_000 };
let dir: string;
let sessions: ModelSession[];
let server: { url: string; close: () => Promise<void> };
let cls: ModelSession;
let vad: ModelSession;
let mlp: ModelSession;
let deps: DataPlaneDeps;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'data-plane-'));
  const opts = { executionProviders: ['cpu'] };
  cls = await createModelSession(REAL_MODELS.paddleCls, opts);
  vad = await createModelSession(REAL_MODELS.sileroVad, opts);
  mlp = await createModelSession(
    await writeMlp(join(dir, 'mlp.onnx'), { inputs: 64, hidden: 128, outputs: 10 }),
    opts,
  );
  sessions = [cls, vad, mlp];
  const metrics = new InferenceMetrics();
  const models = staticRegistry([
    serveModel(cls, { name: 'cls', version: '1' }, batching, metrics),
    serveModel(vad, { name: 'vad', version: '1' }, batching, metrics),
    serveModel(mlp, { name: 'mlp', version: '3' }, batching, metrics),
  ]);
  deps = { models, metrics, signingKey: (g) => (g === 1 ? KEY : undefined), bodyLimitBytes: 8 << 20 };
  server = await listen(createDataPlaneListener(deps));
  // Three models load (one in a worker thread): seconds on a busy machine.
}, 60_000);
afterAll(async () => {
  await server.close();
  await Promise.all(sessions.map((s) => s.release()));
  await rm(dir, { recursive: true, force: true });
});

async function call(method: string, target: string, body?: Uint8Array, extra: Record<string, string> = {}) {
  const headers = edgeHeaders(KEY, { method, target, body, deploymentId: DEP, headers: extra });
  return fetch(server.url + target, { method, headers, body });
}

async function infer(model: string, inputs: Tensor[], binary: boolean) {
  const { body, headerLength } = encodeInferRequest(
    { parameters: { binary_data_output: binary } },
    inputs.map((tensor) => ({ tensor, binary })),
  );
  const extra: Record<string, string> =
    headerLength === undefined ? {} : { 'inference-header-content-length': String(headerLength) };
  const res = await call('POST', `/v2/models/${model}/infer`, body, extra);
  expect(
    res.status,
    await res
      .clone()
      .text()
      .then((t) => t.slice(0, 200)),
  ).toBe(200);
  const header = res.headers.get('inference-header-content-length');
  return decodeInferResponse(
    new Uint8Array(await res.arrayBuffer()),
    header === null ? undefined : Number(header),
  );
}

const image = (seed: number): Tensor => ({
  name: 'x',
  datatype: 'FP32',
  shape: [1, 3, 48, 192],
  data: Float32Array.from({ length: 3 * 48 * 192 }, (_, i) => Math.sin(seed + i / 97)),
});

function expectClose(actual: Tensor | undefined, expected: Tensor | undefined) {
  expect(actual?.shape).toEqual(expected?.shape);
  const a = Array.from(actual?.data as Float32Array);
  const e = Array.from(expected?.data as Float32Array);
  for (const [i, v] of a.entries()) expect(v).toBeCloseTo(e[i] ?? Number.NaN, 5);
}

describe('data plane over HTTP', () => {
  it('answers infer through the hono app exactly as through the Node fast path, errors included', async () => {
    const app = createDataPlaneApp(deps);
    const good = encodeInferRequest({ parameters: { binary_data_output: true } }, [
      { tensor: image(3), binary: true },
    ]);
    const wrongName = encodeInferRequest({}, [{ tensor: { ...image(3), name: 'y' }, binary: true }]);
    const cases = [
      { target: '/v2/models/cls/infer', encoded: good, signed: true },
      { target: '/v2/models/cls/versions/1/infer?trace=1', encoded: good, signed: true },
      { target: '/v2/models/cls/infer', encoded: wrongName, signed: true },
      { target: '/v2/models/nope/infer', encoded: good, signed: true },
      { target: '/v2/models/cls/infer', encoded: good, signed: false },
    ];
    const seen: number[] = [];
    for (const { target, encoded, signed } of cases) {
      const { body, headerLength } = encoded;
      const length: Record<string, string> =
        headerLength === undefined ? {} : { 'inference-header-content-length': String(headerLength) };
      // One request id for both paths: error bodies carry it.
      const headers = {
        ...(signed
          ? edgeHeaders(KEY, { method: 'POST', target, body, deploymentId: DEP, headers: length })
          : length),
        'x-request-id': 'req-compare',
      };
      const viaNode = await fetch(server.url + target, { method: 'POST', headers, body });
      const viaHono = await app.fetch(
        new Request(`http://agent${target}`, { method: 'POST', headers, body }),
      );
      expect(viaHono.status, target).toBe(viaNode.status);
      expect(viaHono.headers.get('content-type')).toBe(viaNode.headers.get('content-type'));
      expect(Buffer.from(await viaHono.arrayBuffer())).toEqual(Buffer.from(await viaNode.arrayBuffer()));
      seen.push(viaNode.status);
    }
    expect(seen).toEqual([200, 200, 400, 404, 401]);
  });

  it('serves PaddleOCR cls as JSON and as binary with the outputs of a direct session.run', async () => {
    const [direct] = await cls.run([image(1)]);
    for (const binary of [false, true]) {
      const { response, outputs } = await infer('cls', [image(1)], binary);
      expect(response.model_name).toBe('cls');
      expect(response.outputs[0]?.parameters?.binary_data_size !== undefined).toBe(binary);
      expectClose(outputs[0], direct);
    }
  });

  it("names the model as the edge's caller did when the edge says so, on both paths", async () => {
    const app = createDataPlaneApp(deps);
    const target = '/v2/models/cls/infer';
    const { body, headerLength } = encodeInferRequest({ parameters: { binary_data_output: true } }, [
      { tensor: image(2), binary: true },
    ]);
    const length = { 'inference-header-content-length': String(headerLength) };
    const named = { 'x-meridian-model-name': 'my "cls"', 'x-meridian-model-version': '7' };
    for (const extra of [named, {}]) {
      const headers = {
        ...edgeHeaders(KEY, { method: 'POST', target, body, deploymentId: DEP, headers: length }),
        ...extra,
      };
      const viaNode = await fetch(server.url + target, { method: 'POST', headers, body });
      const viaHono = await app.fetch(
        new Request(`http://agent${target}`, { method: 'POST', headers, body }),
      );
      for (const res of [viaNode, viaHono]) {
        expect(res.status).toBe(200);
        expect(res.headers.get('x-meridian-named')).toBe(extra === named ? '1' : null);
        const length = Number(res.headers.get('inference-header-content-length'));
        const { response } = decodeInferResponse(new Uint8Array(await res.arrayBuffer()), length);
        expect([response.model_name, response.model_version]).toEqual(
          extra === named ? ['my "cls"', '7'] : ['cls', '1'],
        );
      }
    }
  });

  it('serves concurrent cls requests through the batcher with each caller getting its own answer', async () => {
    const seeds = Array.from({ length: 12 }, (_, i) => i);
    const answers = await Promise.all(seeds.map((s) => infer('cls', [image(s)], true)));
    for (const s of seeds) expectClose(answers[s]?.outputs[0], (await cls.run([image(s)]))[0]);
  });

  it('serves Silero VAD (INT64 scalar sr, state batched on dim 1) exactly', async () => {
    const inputs: Tensor[] = [
      { name: 'sr', datatype: 'INT64', shape: [], data: new BigInt64Array([16000n]) },
      {
        name: 'input',
        datatype: 'FP32',
        shape: [1, 512],
        data: Float32Array.from({ length: 512 }, (_, i) => Math.sin(i / 5)),
      },
      { name: 'state', datatype: 'FP32', shape: [2, 1, 128], data: new Float32Array(256) },
    ];
    const direct = await vad.run([inputs[1], inputs[2], inputs[0]] as Tensor[]);
    const { outputs } = await infer('vad', inputs, true);
    expect(outputs.map((o) => o.data)).toEqual(direct.map((o) => o.data));
  });

  it('serves the MLP under concurrency, JSON in and binary out', async () => {
    const x = (s: number): Tensor => ({
      name: 'x',
      datatype: 'FP32',
      shape: [2, 64],
      data: Float32Array.from({ length: 128 }, (_, i) => Math.cos(s * i)),
    });
    const answers = await Promise.all(
      Array.from({ length: 16 }, (_, s) => infer('mlp', [x(s)], s % 2 === 0)),
    );
    for (const [s, a] of answers.entries()) expectClose(a.outputs[0], (await mlp.run([x(s)]))[0]);
  });

  it('describes models, versions and readiness', async () => {
    const meta = await (await call('GET', '/v2/models/cls/versions/1')).json();
    expect(meta).toEqual({
      name: 'cls',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3, -1, -1] }],
      outputs: [{ name: 'softmax_0.tmp_0', datatype: 'FP32', shape: [-1, 2] }],
    });
    expect((await call('GET', '/v2/models/cls/versions/2')).status).toBe(404);
    expect((await call('GET', '/v2/models/vad/ready')).status).toBe(200);
    expect((await call('GET', '/v2/health/live')).status).toBe(200);
    expect((await call('GET', '/v2/health/ready')).status).toBe(200);
  });

  it("reports a version's statistics in Triton's shape, failures apart", async () => {
    type Stat = Omit<ModelStat, 'inference_stats'> & { inference_stats: Record<string, DurationStat> };
    const stats = async () => {
      const res = await call('GET', '/v2/models/mlp/versions/3/stats');
      expect(res.status).toBe(200);
      const { model_stats } = (await res.json()) as { model_stats: Stat[] };
      expect(model_stats).toHaveLength(1);
      return model_stats[0] as Stat;
    };
    // Other tests of this file call the MLP too: compare before and after.
    const was = await stats();
    const started = Date.now();
    const input = (data: number[]): Tensor => ({
      name: 'x',
      datatype: 'FP32',
      shape: [1, data.length],
      data: Float32Array.from(data),
    });
    for (let i = 0; i < 3; i++)
      await infer('mlp', [input(Array.from({ length: 64 }, (_, j) => i + j))], true);
    const bad = encodeInferRequest({}, [{ tensor: input([1, 2]), binary: false }]);
    expect((await call('POST', '/v2/models/mlp/infer', bad.body)).status).toBe(400);

    const now = await stats();
    expect(now).toMatchObject({ name: 'mlp', version: '3', batch_stats: [] });
    expect(now.inference_count - was.inference_count).toBe(3);
    const executions = now.execution_count - was.execution_count;
    expect(executions).toBeGreaterThanOrEqual(1);
    expect(executions).toBeLessThanOrEqual(3);
    expect(now.last_inference).toBeGreaterThanOrEqual(started);
    const [a, b] = [was.inference_stats, now.inference_stats];
    const added = (phase: string) => ({
      count: (b[phase]?.count ?? 0) - (a[phase]?.count ?? 0),
      ns: (b[phase]?.ns ?? 0) - (a[phase]?.ns ?? 0),
    });
    expect(['success', 'fail', 'queue', 'compute_infer'].map((p) => added(p).count)).toEqual([3, 1, 3, 3]);
    for (const phase of ['success', 'fail', 'compute_infer']) expect(added(phase).ns).toBeGreaterThan(0);
    // A whole request takes at least as long as the model's run inside it.
    expect(added('success').ns).toBeGreaterThanOrEqual(added('compute_infer').ns);
    expect((await call('GET', '/v2/models/nope/stats')).status).toBe(404);
  });
});
