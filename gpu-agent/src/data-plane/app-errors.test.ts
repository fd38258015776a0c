import { request as httpRequest } from 'node:http';
import { encodeInferRequest, type Tensor } from '@meridian/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModelSession, type ModelSession } from '../onnx/session.js';
import { REAL_MODELS } from '../onnx/testing/models.js';
import { createDataPlaneListener } from './listener.js';
import { InferenceMetrics } from './metrics.js';
import { serveModel, staticRegistry } from './models.js';
import { edgeHeaders, listen } from './testing/server.js';

const KEY = new TextEncoder().encode('e'.repeat(32));
const DEP = 'dep_errors';
const TARGET = '/v2/models/cls/infer';
const REQUEST_ID = 'req-0123456789';
let cls: ModelSession;
let server: { url: string; close: () => Promise<void> };
const metrics = new InferenceMetrics();

beforeAll(async () => {
  cls = await createModelSession(REAL_MODELS.paddleCls, { executionProviders: ['cpu'] });
  const batching = { maxBatchSize: 8, maxQueueDelayUs: 0, maxQueueSize: 64, timeoutMs: 10_000 };
  const models = staticRegistry([serveModel(cls, { name: 'cls', version: '1' }, batching, metrics)]);
  server = await listen(
    createDataPlaneListener({ models, metrics, signingKey: (g) => (g === 1 ? KEY : undefined) }),
  );
});
afterAll(async () => {
  await server.close();
  await cls.release();
});

const x = (shape = [1, 3, 48, 192], datatype: Tensor['datatype'] = 'FP32'): Tensor => ({
  name: 'x',
  datatype,
  shape,
  data:
    datatype === 'FP32'
      ? new Float32Array(shape.reduce((a, b) => a * b, 1))
      : new Float64Array(shape.reduce((a, b) => a * b, 1)),
});

async function post(
  body: Uint8Array,
  headerLength?: number,
  sign: Partial<{ timestamp: number; key: Uint8Array }> = {},
) {
  const headers = edgeHeaders(sign.key ?? KEY, {
    method: 'POST',
    target: TARGET,
    body,
    deploymentId: DEP,
    timestamp: sign.timestamp,
    headers: headerLength === undefined ? {} : { 'inference-header-content-length': String(headerLength) },
  });
  const res = await fetch(server.url + TARGET, {
    method: 'POST',
    headers: { ...headers, 'x-request-id': REQUEST_ID },
    body,
  });
  const { requestId, ...rest } = (await res.json()) as { error?: string; requestId?: string };
  // Every error names the request the edge sent, so its log line and the caller's answer meet.
  if (res.status !== 200) expect(requestId).toBe(REQUEST_ID);
  return { status: res.status, body: rest };
}

function binary(tensor: Tensor) {
  return encodeInferRequest({}, [{ tensor, binary: true }]);
}

async function expectStillServing() {
  const { body, headerLength } = binary(x());
  expect((await post(body, headerLength)).status).toBe(200);
}

describe('data plane refuses bad requests and keeps serving', () => {
  it.each([
    ['a wrong input name', { ...x(), name: 'y' }, "unexpected input 'y'; the model takes 'x'"],
    ['a wrong datatype', x(undefined, 'FP64'), "input 'x': datatype FP64 does not match the model's FP32"],
    ['a wrong shape', x([1, 4, 48, 192]), "input 'x': dimension 1 is 4 but the model expects 3 [-1,3,-1,-1]"],
  ])('answers 400 for %s', async (_, tensor, message) => {
    const { body, headerLength } = binary(tensor);
    // The code beside OIP's message, as on the edge's own errors: clients read it on every error.
    expect(await post(body, headerLength)).toEqual({
      status: 400,
      body: { error: message, code: 'bad_request' },
    });
    await expectStillServing();
  });

  it('answers 400 when JSON data holds fewer elements than the shape', async () => {
    const json = new TextEncoder().encode(
      JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, 192], data: [1, 2] }] }),
    );
    expect(await post(json)).toEqual({
      status: 400,
      body: {
        error: "input 'x': shape [1,3,48,192] needs 27648 elements but data holds 2",
        code: 'bad_request',
      },
    });
  });

  it('answers 400 for a truncated binary payload', async () => {
    const { body, headerLength } = binary(x());
    const res = await post(body.subarray(0, body.length - 100), headerLength);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(/runs past the end of the body/);
    await expectStillServing();
  });

  it('answers 401 when unsigned, wrongly signed, or replayed outside the window', async () => {
    const { body, headerLength } = binary(x());
    const unsigned = await fetch(server.url + TARGET, { method: 'POST', body });
    expect(unsigned.status).toBe(401);
    expect(await unsigned.json()).toEqual({
      error: 'missing or malformed edge signature headers',
      code: 'unauthenticated',
      requestId: expect.any(String),
    });
    expect((await post(body, headerLength, { key: new Uint8Array(32) })).body).toEqual({
      error: 'bad edge signature',
      code: 'unauthenticated',
    });
    const stale = await post(body, headerLength, { timestamp: Math.floor(Date.now() / 1000) - 31 });
    expect(stale).toEqual({
      status: 401,
      body: { error: 'edge signature timestamp is outside the allowed window', code: 'unauthenticated' },
    });
    const tampered = { ...edgeHeaders(KEY, { method: 'POST', target: TARGET, body, deploymentId: DEP }) };
    const res = await fetch(`${server.url}/v2/models/other/infer`, {
      method: 'POST',
      headers: tampered,
      body,
    });
    expect(res.status).toBe(401);
    await expectStillServing();
  });

  // Declared: refused from the header alone. Chunked: refused once the limit (64 MiB) has been read.
  it.each(['declared', 'chunked'] as const)(
    'answers 413 to a 100 MB %s body without reading it all, then keeps serving',
    async (framing) => {
      const size = 100 * 1024 * 1024;
      const headers = {
        ...edgeHeaders(KEY, { method: 'POST', target: TARGET, deploymentId: DEP }),
        ...(framing === 'declared' ? { 'content-length': String(size) } : {}),
      };
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest(`${server.url}${TARGET}`, { method: 'POST', headers }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
          req.destroy();
        });
        req.on('error', reject);
        const chunk = Buffer.alloc(1 << 20);
        let sent = 0;
        const pump = () => {
          while (sent < size && !req.destroyed) {
            sent += chunk.length;
            if (!req.write(chunk)) return void req.once('drain', pump);
          }
          if (!req.destroyed) req.end();
        };
        pump();
      });
      expect(status).toBe(413);
      await expectStillServing();
    },
    30_000,
  );

  it('serves a chunked request body (no Content-Length) like a declared one', async () => {
    const { body, headerLength } = binary(x());
    const headers = edgeHeaders(KEY, {
      method: 'POST',
      target: TARGET,
      body,
      deploymentId: DEP,
      headers: { 'inference-header-content-length': String(headerLength) },
    });
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${server.url}${TARGET}`, { method: 'POST', headers }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      // Two writes before end(): Node frames the body as chunked.
      req.write(body.subarray(0, 1000));
      req.end(body.subarray(1000));
    });
    expect(status).toBe(200);
  });

  it('counts successes and failures in Triton-named metrics', async () => {
    const res = await fetch(`${server.url}/metrics`, {
      headers: edgeHeaders(KEY, { method: 'GET', target: '/metrics', deploymentId: DEP }),
    });
    const text = await res.text();
    expect(text).toMatch(/nv_inference_request_success\{model="cls",version="1"\} [1-9]/);
    expect(text).toMatch(/nv_inference_request_failure\{model="cls",version="1"\} [1-9]/);
    expect(text).toMatch(/nv_inference_exec_count\{model="cls",version="1"\} [1-9]/);
    expect(text).toContain('nv_inference_compute_infer_duration_us');
  });
});
