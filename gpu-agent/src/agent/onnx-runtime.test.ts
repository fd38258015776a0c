import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DesiredModelWorkload } from '@meridian/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelCache } from '../cache/model-cache.js';
import { TestBlobServer } from '../cache/test-blob-server.js';
import { InferenceMetrics } from '../data-plane/metrics.js';
import { buildMlp } from '../onnx/testing/mlp.js';
import { OnnxWorkloadRuntime } from './onnx-runtime.js';
import { ServedModels } from './served-models.js';

// Scale to zero and back on one agent, with the real cache, onnxruntime and a real HTTP blob server that
// counts downloads: waking a deployment must not fetch its model again.
let blobs: TestBlobServer;
let dir: string;
let source: { url: string; sha256: string; sizeBytes: number };

const workload = (workloadId: string): DesiredModelWorkload => ({
  kind: 'model',
  workloadId,
  deploymentId: 'dep_wake',
  gpuType: 'cpu',
  gpuCount: 0,
  model: { versionId: 'mdv_wake', format: 'onnx', runtime: 'onnx', downloadUrl: source.url, ...source },
});
const ctx = { report: () => {}, exited: () => {}, signal: new AbortController().signal };

function runtimeOn(cacheDir: string) {
  const cache = new ModelCache(cacheDir, { budgetBytes: 10 << 20 });
  const models = new ServedModels();
  const onnx = new OnnxWorkloadRuntime({
    cache,
    models,
    metrics: new InferenceMetrics(),
    session: { executionProviders: ['cpu'] },
  });
  return { cache, models, onnx };
}

beforeAll(async () => {
  blobs = await TestBlobServer.start();
  dir = await mkdtemp(join(tmpdir(), 'onnx-runtime-'));
  source = blobs.put('wake', Buffer.from(buildMlp({ inputs: 16, hidden: 8, outputs: 4 })));
});

afterAll(async () => {
  await blobs.close();
  await rm(dir, { recursive: true, force: true });
});

describe('OnnxWorkloadRuntime across scale to zero', () => {
  it('keeps the model file cached after its last replica stops, so a wake loads it without a download', async () => {
    const { cache, models, onnx } = runtimeOn(join(dir, 'models'));
    await onnx.start(workload('wl_1'), ctx);
    await onnx.stop('wl_1');
    expect(models.get('dep_wake')).toBeUndefined();
    expect(await cache.list()).toMatchObject([{ versionId: 'mdv_wake', pinned: false }]);

    const started = performance.now();
    await onnx.start(workload('wl_2'), ctx);
    const wakeMs = performance.now() - started;

    expect(blobs.hits('wake')).toBe(1);
    expect(models.get('dep_wake')?.ready).toBe(true);
    console.info(`cached wake: model loaded in ${wakeMs.toFixed(1)} ms`);
    await onnx.stop('wl_2');
  });

  it('keeps it across an agent restart too (the cache is on disk)', async () => {
    const { onnx } = runtimeOn(join(dir, 'models'));
    await onnx.start(workload('wl_3'), ctx);

    expect(blobs.hits('wake')).toBe(1);
    await onnx.stop('wl_3');
  });

  it("reports each loaded replica's load, and forgets a stopped one", async () => {
    const { onnx } = runtimeOn(join(dir, 'models'));
    await onnx.start(workload('wl_4'), ctx);
    await onnx.start(workload('wl_5'), ctx);
    await onnx.stop('wl_4');

    expect(onnx.loads().map((l) => [l.workloadId, l.load.inFlight, l.load.queued])).toEqual([['wl_5', 0, 0]]);
    await onnx.stop('wl_5');
  });
});
