import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DesiredModelWorkload } from '@meridian/protocol';
import { decodeInferResponse, encodeInferRequest } from '@meridian/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelCache } from '../cache/model-cache.js';
import { TestBlobServer } from '../cache/test-blob-server.js';
import { createDataPlaneApp } from '../data-plane/app.js';
import { InferenceMetrics } from '../data-plane/metrics.js';
import { edgeHeaders } from '../data-plane/testing/server.js';
import { buildMlp } from '../onnx/testing/mlp.js';
import { OnnxWorkloadRuntime } from './onnx-runtime.js';
import { ServedModels } from './served-models.js';

// One deployment served twice on one agent by the real onnx runtime, as during a rolling update: the old
// version is an MLP with 4 outputs, the new one has 10, so the output shape shows which one answered.
const KEY = new TextEncoder().encode('r'.repeat(32));
const DEP = 'dep_rolling';
let blobs: TestBlobServer;
let dir: string;
let models: ServedModels;
let onnx: OnnxWorkloadRuntime;
let app: ReturnType<typeof createDataPlaneApp>;
const sources: Record<string, { url: string; sha256: string; sizeBytes: number }> = {};

const workload = (workloadId: string, versionId: string): DesiredModelWorkload => {
  const source = sources[versionId];
  if (!source) throw new Error(`no blob for ${versionId}`);
  return {
    kind: 'model',
    workloadId,
    deploymentId: DEP,
    gpuType: 'cpu',
    gpuCount: 0,
    model: {
      versionId,
      format: 'onnx',
      runtime: 'onnx',
      downloadUrl: source.url,
      sha256: source.sha256,
      sizeBytes: source.sizeBytes,
    },
  };
};
const ctx = { report: () => {}, exited: () => {}, signal: new AbortController().signal };

beforeAll(async () => {
  blobs = await TestBlobServer.start();
  dir = await mkdtemp(join(tmpdir(), 'served-models-'));
  sources.mdv_old = blobs.put('old', Buffer.from(buildMlp({ inputs: 16, hidden: 8, outputs: 4 })));
  sources.mdv_new = blobs.put('new', Buffer.from(buildMlp({ inputs: 16, hidden: 8, outputs: 10 })));
  models = new ServedModels();
  const metrics = new InferenceMetrics();
  const cache = new ModelCache(join(dir, 'models'), { budgetBytes: 10 << 20 });
  onnx = new OnnxWorkloadRuntime({ cache, models, metrics, session: { executionProviders: ['cpu'] } });
  app = createDataPlaneApp({ models, metrics, signingKey: (g) => (g === 1 ? KEY : undefined) });
  await onnx.start(workload('wl_old', 'mdv_old'), ctx);
  await onnx.start(workload('wl_new', 'mdv_new'), ctx);
});
afterAll(async () => {
  for (const id of ['wl_old', 'wl_new', 'wl_new_2']) await onnx.stop(id);
  await blobs.close();
  await rm(dir, { recursive: true, force: true });
});

/** A signed request as the edge sends it; `path` follows `/v2/models/<DEP>`. */
async function call(method: 'GET' | 'POST', path: string, body?: Uint8Array) {
  const target = `/v2/models/${DEP}${path}`;
  const headers = edgeHeaders(KEY, { method, target, body, deploymentId: DEP });
  return app.fetch(new Request(`http://agent${target}`, { method, headers, body }));
}

/** Infers one row; answers the status, and for a 200 the version that answered and its output shape. */
async function infer(path: string) {
  const x = Float32Array.from({ length: 16 }, (_, i) => Math.sin(i));
  const { body } = encodeInferRequest({}, [
    { tensor: { name: 'x', datatype: 'FP32', shape: [1, 16], data: x }, binary: false },
  ]);
  const res = await call('POST', `${path}/infer`, body);
  if (res.status !== 200) return { status: res.status };
  const { response, outputs } = decodeInferResponse(new Uint8Array(await res.arrayBuffer()), undefined);
  return { status: 200, version: response.model_version, shape: outputs[0]?.shape };
}

describe('several workloads serving one deployment on one agent', () => {
  it('serves each loaded version at its own version path', async () => {
    expect(await infer('/versions/mdv_old')).toEqual({ status: 200, version: 'mdv_old', shape: [1, 4] });
    expect(await infer('/versions/mdv_new')).toEqual({ status: 200, version: 'mdv_new', shape: [1, 10] });
    expect((await infer('/versions/mdv_absent')).status).toBe(404);
  });

  it('answers a call without a version with the version loaded last, and lists both', async () => {
    expect(await infer('')).toEqual({ status: 200, version: 'mdv_new', shape: [1, 10] });
    const meta = (await (await call('GET', '')).json()) as { versions: string[] };
    expect(meta.versions).toEqual(['mdv_old', 'mdv_new']);
  });

  it('keeps serving the new version once the old one is unloaded', async () => {
    await onnx.stop('wl_old');
    expect((await infer('/versions/mdv_old')).status).toBe(404);
    expect(await infer('')).toMatchObject({ status: 200, version: 'mdv_new' });
    expect(await infer('/versions/mdv_new')).toMatchObject({ status: 200, version: 'mdv_new' });
  });

  it('keeps serving a version when one of its two replicas is unloaded', async () => {
    await onnx.start(workload('wl_new_2', 'mdv_new'), ctx);
    expect(models.list().map((m) => m.version)).toEqual(['mdv_new', 'mdv_new']);
    const second = models.get(DEP);
    await onnx.stop('wl_new_2');
    expect(second?.ready).toBe(false);
    expect(models.list()).toHaveLength(1);
    expect(await infer('/versions/mdv_new')).toMatchObject({ status: 200, version: 'mdv_new' });
  });
});
