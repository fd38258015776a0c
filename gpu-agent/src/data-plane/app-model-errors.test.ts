import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeInferRequest } from '@meridian/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJsonLogger } from '../agent/logger.js';
import { createModelSession, type ModelSession } from '../onnx/session.js';
import { writeBroadcastAdd } from '../onnx/testing/broadcast-add.js';
import { createDataPlaneListener } from './listener.js';
import { InferenceMetrics } from './metrics.js';
import { serveModel, staticRegistry } from './models.js';
import { edgeHeaders, listen } from './testing/server.js';

// A real model that onnxruntime cannot run on some inputs the signature allows: y = x + [1,2,3] with
// x[batch, n] and n dynamic, so n = 5 fails inside onnxruntime's broadcast.
const KEY = new TextEncoder().encode('m'.repeat(32));
const batching = { maxBatchSize: 8, maxQueueDelayUs: 0, maxQueueSize: 64, timeoutMs: 10_000 };
let dir: string;
let sessions: ModelSession[];
let server: { url: string; close: () => Promise<void> };
const lines: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'model-errors-'));
  const path = await writeBroadcastAdd(join(dir, 'broadcast-add.onnx'));
  // The same model on this thread and in a worker: the failure crosses the worker boundary intact.
  sessions = await Promise.all(
    (['main', 'worker'] as const).map((thread) =>
      createModelSession(path, { executionProviders: ['cpu'], thread }),
    ),
  );
  const metrics = new InferenceMetrics();
  const models = staticRegistry(
    sessions.map((s, i) =>
      serveModel(s, { name: i === 0 ? 'add-main' : 'add-worker', version: '1' }, batching, metrics),
    ),
  );
  const log = createJsonLogger((line) => lines.push(line));
  server = await listen(createDataPlaneListener({ models, metrics, signingKey: () => KEY, log }));
});
afterAll(async () => {
  await server.close();
  await Promise.all(sessions.map((s) => s.release()));
  await rm(dir, { recursive: true, force: true });
});

async function infer(model: string, n: number, requestId: string) {
  const target = `/v2/models/${model}/infer`;
  const { body } = encodeInferRequest({}, [
    { tensor: { name: 'x', datatype: 'FP32', shape: [1, n], data: new Float32Array(n) }, binary: false },
  ]);
  const headers = {
    ...edgeHeaders(KEY, { method: 'POST', target, body, deploymentId: 'dep_add' }),
    'x-request-id': requestId,
  };
  const res = await fetch(server.url + target, { method: 'POST', headers, body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('a model that fails inside onnxruntime', () => {
  it.each(['add-main', 'add-worker'])(
    '%s answers 400 with onnxruntime’s message and the request id, logged once as one JSON line',
    async (model) => {
      expect((await infer(model, 3, `ok-${model}`)).status).toBe(200);
      const before = lines.length;
      const requestId = `bad-${model}`;
      const failed = await infer(model, 5, requestId);
      expect(failed.status).toBe(400);
      expect(failed.body).toEqual({ error: expect.any(String), code: 'bad_request', requestId });
      const message = String(failed.body.error);
      expect(message).toMatch(/^onnxruntime: .*Add node.*broadcast.*3 by 5/);
      expect(message).not.toMatch(/onnxruntime_src/);
      const logged = lines.slice(before).map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(logged).toEqual([
        expect.objectContaining({
          level: 'error',
          requestId,
          status: 400,
          model,
          version: '1',
          error: message,
        }),
      ]);
      // The model keeps serving the inputs it can take.
      expect((await infer(model, 3, `again-${model}`)).status).toBe(200);
    },
  );
});
