import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DesiredModelWorkload, DesiredState, DesiredWorkload } from '@meridian/protocol';
import { decodeInferResponse, encodeInferRequest } from '@meridian/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelCache } from '../cache/model-cache.js';
import { TestBlobServer } from '../cache/test-blob-server.js';
import { createDataPlaneApp } from '../data-plane/app.js';
import { InferenceMetrics } from '../data-plane/metrics.js';
import { edgeHeaders } from '../data-plane/testing/server.js';
import { REAL_MODELS } from '../onnx/testing/models.js';
import { silentLogger } from './logger.js';
import { OnnxWorkloadRuntime } from './onnx-runtime.js';
import { Reconciler } from './reconciler.js';
import { ServedModels } from './served-models.js';
import { UsageMeter } from './usage-meter.js';
import type { WorkloadRuntime } from './workload-runtime.js';
import { WorkloadStore } from './workload-store.js';

const KEY = new TextEncoder().encode('k'.repeat(32));
const DEP = 'dep_cls';
let blobs: TestBlobServer;
let dir: string;
let clsSource: { url: string; sha256: string; sizeBytes: number };

beforeAll(async () => {
  blobs = await TestBlobServer.start();
  dir = await mkdtemp(join(tmpdir(), 'reconciler-'));
  clsSource = blobs.put('cls', await readFile(REAL_MODELS.paddleCls));
});
afterAll(async () => {
  await blobs.close();
  await rm(dir, { recursive: true, force: true });
});

const modelWorkload = (workloadId: string, source: typeof clsSource): DesiredModelWorkload => ({
  kind: 'model',
  workloadId,
  deploymentId: DEP,
  gpuType: 't4',
  gpuCount: 1,
  model: {
    versionId: `mdv_${workloadId}`,
    format: 'onnx',
    runtime: 'onnx',
    downloadUrl: source.url,
    sha256: source.sha256,
    sizeBytes: source.sizeBytes,
  },
});

/** One agent's worth of real parts (cache, onnxruntime, data plane) on `dataDir`, as main.ts wires them. */
function agentParts(dataDir: string) {
  const models = new ServedModels();
  const metrics = new InferenceMetrics();
  const cache = new ModelCache(join(dataDir, 'models'), { budgetBytes: 100 << 20 });
  const onnx = new OnnxWorkloadRuntime({ cache, models, metrics, session: { executionProviders: ['cpu'] } });
  // A clock that moves a second at every reading, so a span metered within one millisecond is not empty.
  let clock = 0;
  const usage = new UsageMeter(() => (clock += 1000));
  const phases: string[] = [];
  const reconciler: Reconciler = new Reconciler({
    runtimes: [onnx],
    store: new WorkloadStore(dataDir),
    usage,
    hostHasGpus: () => false,
    log: silentLogger,
    onChange: () => {
      const phase = reconciler.statuses()[0]?.phase ?? 'gone';
      if (phases.at(-1) !== phase) phases.push(phase);
    },
  });
  const app = createDataPlaneApp({ models, metrics, signingKey: () => KEY });
  return { reconciler, models, usage, phases, app };
}

async function inferCls(app: ReturnType<typeof createDataPlaneApp>) {
  const target = `/v2/models/${DEP}/infer`;
  const x = Float32Array.from({ length: 3 * 48 * 192 }, (_, i) => Math.sin(i / 97));
  const { body } = encodeInferRequest({}, [
    { tensor: { name: 'x', datatype: 'FP32', shape: [1, 3, 48, 192], data: x }, binary: false },
  ]);
  const headers = edgeHeaders(KEY, { method: 'POST', target, body, deploymentId: DEP });
  const res = await app.fetch(new Request(`http://agent${target}`, { method: 'POST', headers, body }));
  const bytes = new Uint8Array(await res.arrayBuffer());
  return {
    status: res.status,
    decoded: res.status === 200 ? decodeInferResponse(bytes, undefined) : undefined,
  };
}

describe('Reconciler with the onnx runtime', () => {
  it('pulls, loads and serves a model, adopts it after a restart without downloading again, and unloads it', async () => {
    const dataDir = join(dir, 'agent');
    const state: DesiredState = { version: 1, workloads: [modelWorkload('w1', clsSource)] };
    const first = agentParts(dataDir);
    await first.reconciler.apply(state);
    await first.reconciler.idle();
    expect(first.phases).toEqual(['pulling', 'loading', 'ready']);
    expect(first.reconciler.statuses()).toEqual([
      expect.objectContaining({
        workloadId: 'w1',
        kind: 'model',
        phase: 'ready',
        startedAt: expect.any(String),
      }),
    ]);
    const answer = await inferCls(first.app);
    expect(answer.status).toBe(200);
    expect(answer.decoded?.response.model_name).toBe(DEP);
    expect(answer.decoded?.outputs[0]?.shape).toEqual([1, 2]);
    expect(blobs.hits('cls')).toBe(1);

    // The same state again starts nothing twice.
    await first.reconciler.apply(state);
    await first.reconciler.idle();
    expect(first.phases.at(-1)).toBe('ready');
    expect(blobs.hits('cls')).toBe(1);

    // A restart: the process's sessions are gone, the record and the cached file are not.
    await first.reconciler.shutdown();
    const second = agentParts(dataDir);
    await second.reconciler.restore();
    await second.reconciler.idle();
    expect(second.reconciler.statuses()[0]?.phase).toBe('ready');
    expect((await inferCls(second.app)).status).toBe(200);
    await second.reconciler.apply(state);
    await second.reconciler.idle();
    expect(second.phases).toEqual(['pulling', 'loading', 'ready']); // adopted, not started a second time
    expect(blobs.hits('cls')).toBe(1);

    await second.reconciler.apply({ version: 2, workloads: [] });
    expect(second.reconciler.statuses()).toEqual([]);
    expect(second.models.list()).toEqual([]);
    expect((await inferCls(second.app)).status).toBe(404);
    const usage = second.usage.drain();
    expect(usage).toEqual([expect.objectContaining({ workloadId: 'w1', gpuType: 'cpu' })]);
    expect(JSON.parse(await readFile(join(dataDir, 'workloads.json'), 'utf8'))).toEqual({ workloads: [] });

    const third = agentParts(dataDir);
    await third.reconciler.restore();
    expect(third.reconciler.statuses()).toEqual([]);
  });

  it('reports failed with a reason when the served bytes do not match the sha256, and serves nothing', async () => {
    const { reconciler, models } = agentParts(join(dir, 'bad'));
    const wrong = { ...clsSource, sha256: 'f'.repeat(64) };
    await reconciler.apply({ version: 1, workloads: [modelWorkload('w-bad', wrong)] });
    await reconciler.idle();
    const [status] = reconciler.statuses();
    expect(status?.phase).toBe('failed');
    expect(status?.reason).toMatch(/sha256/i);
    expect(models.list()).toEqual([]);
  });

  it('keeps a replica whose download URL was re-signed or display name changed, and reconfigures it in place when its batching changes', async () => {
    const dataDir = join(dir, 'resigned');
    const { reconciler, models, phases, app } = agentParts(dataDir);
    const workload = modelWorkload('w-resigned', clsSource);
    await reconciler.apply({ version: 1, workloads: [workload] });
    await reconciler.idle();
    const hits = blobs.hits('cls');
    const served = models.get(DEP);
    const [before] = reconciler.statuses();
    expect(served?.batcher.limits).toEqual({ maxBatchSize: 32, maxQueueDelayUs: 0 }); // the agent's default

    // The control plane signs the URL afresh in every answer: same bytes, another URL.
    const resignedUrl = clsSource.url.replace(/signature=\w+/, `signature=${'cd'.repeat(32)}`);
    expect(resignedUrl).not.toBe(clsSource.url);
    // The display name is a label for log lines: a new one (a control plane that now sends it) is no new replica.
    const resigned = {
      ...workload,
      displayName: 'cls v1',
      model: { ...workload.model, downloadUrl: resignedUrl },
    };
    await reconciler.apply({ version: 2, workloads: [resigned] });
    await reconciler.idle();
    expect(models.get(DEP)).toBe(served);
    expect(served?.ready).toBe(true);
    expect(reconciler.statuses()).toEqual([before]);

    // A changed batching setting is applied to the serving replica: nothing is loaded again, and calls that
    // are under way when it changes (queued in the old batcher, or arriving meanwhile) are all answered.
    const inFlight = Array.from({ length: 8 }, () => inferCls(app));
    const batched = { ...resigned, batching: { maxBatchSize: 4, maxQueueDelayMs: 2.5 } };
    await reconciler.apply({ version: 3, workloads: [batched] });
    await reconciler.idle();
    expect((await Promise.all(inFlight)).map((a) => a.status)).toEqual(Array(8).fill(200));
    const reconfigured = models.get(DEP);
    expect(served?.ready).toBe(false);
    expect(reconfigured).not.toBe(served);
    expect(reconfigured?.batcher.limits).toEqual({ maxBatchSize: 4, maxQueueDelayUs: 2500 });
    // The adaptive policy still decides whether stacking pays for this model.
    expect(reconfigured?.batcher.mode).toBe('learning');
    expect(models.list()).toHaveLength(1);
    expect(phases).toEqual(['pulling', 'loading', 'ready']);
    expect(blobs.hits('cls')).toBe(hits);
    expect((await inferCls(app)).status).toBe(200);
    // Recorded with the new settings, so a restart adopts the replica as it now is.
    const record = JSON.parse(await readFile(join(dataDir, 'workloads.json'), 'utf8'));
    expect(record.workloads[0].workload.batching).toEqual({ maxBatchSize: 4, maxQueueDelayMs: 2.5 });

    // Batching back to the agent's default is the same kind of change.
    await reconciler.apply({ version: 4, workloads: [resigned] });
    await reconciler.idle();
    expect(models.get(DEP)?.batcher.limits).toEqual({ maxBatchSize: 32, maxQueueDelayUs: 0 });
    expect(phases).toEqual(['pulling', 'loading', 'ready']);
    await reconciler.apply({ version: 5, workloads: [] });
  });

  it('reports failed for a workload no runtime on this agent can run', async () => {
    const { reconciler } = agentParts(join(dir, 'notebook'));
    const notebook: DesiredWorkload = {
      kind: 'notebook',
      workloadId: 'nb-1',
      notebookId: 'nb_1',
      image: 'jupyter/base-notebook',
      idleTimeoutSeconds: 600,
      token: 't'.repeat(32),
      basePath: '/notebooks/nb_1/',
      gpuType: 'cpu',
      gpuCount: 0,
    };
    await reconciler.apply({ version: 1, workloads: [notebook] });
    expect(reconciler.statuses()).toEqual([
      expect.objectContaining({
        workloadId: 'nb-1',
        phase: 'failed',
        reason: expect.stringMatching(/no runtime/),
      }),
    ]);
  });

  it('reports a workload that exits while its start is finishing as failed, never ready or metered', async () => {
    const usage = new UsageMeter();
    const phases: string[] = [];
    // A runtime whose workload exits between its health check and the end of its start (a race the
    // supervised runtime's exit watch can hit while a notebook's first activity is read).
    const runtime: WorkloadRuntime = {
      name: 'docker',
      supports: () => true,
      start: async (_workload, ctx) => ctx.exited('exited after it was ready with code 1'),
      adopt: async () => 'started-again',
      stop: async () => {},
    };
    const reconciler: Reconciler = new Reconciler({
      runtimes: [runtime],
      store: new WorkloadStore(join(dir, 'exits')),
      usage,
      hostHasGpus: () => false,
      log: silentLogger,
      onChange: () => phases.push(reconciler.statuses()[0]?.phase ?? 'gone'),
    });
    await reconciler.apply({ version: 1, workloads: [modelWorkload('exits-1', clsSource)] });
    await reconciler.idle();
    expect(reconciler.statuses()).toMatchObject([
      { phase: 'failed', reason: 'exited after it was ready with code 1' },
    ]);
    expect(phases).not.toContain('ready');
    expect(usage.drain()).toEqual([]);
  });

  it('goes on with the rest of a desired state when one workload fails to stop, and forgets that one', async () => {
    // A notebook's stop that fails after its server stopped, as when the control plane refuses its files
    // (413: a tenant filled the volume past the limit) or cannot be reached: that must not hold up the
    // other tenants' workloads the same desired state starts and stops.
    const calls: string[] = [];
    const errors: string[] = [];
    const runtime: WorkloadRuntime = {
      name: 'docker',
      supports: () => true,
      start: async (w) => void calls.push(`start ${w.workloadId}`),
      adopt: async () => 'started-again',
      stop: async (id) => {
        calls.push(`stop ${id}`);
        if (id === 'full-1') throw new Error('saving the files answered 413: too large');
      },
    };
    const dataDir = join(dir, 'stop-fails');
    const reconciler = new Reconciler({
      runtimes: [runtime],
      store: new WorkloadStore(dataDir),
      usage: new UsageMeter(),
      hostHasGpus: () => false,
      log: { ...silentLogger, error: (msg, fields) => void errors.push(`${msg} ${JSON.stringify(fields)}`) },
    });
    const full = modelWorkload('full-1', clsSource);
    await reconciler.apply({ version: 1, workloads: [full, modelWorkload('other-1', clsSource)] });
    await reconciler.idle();
    await reconciler.apply({ version: 2, workloads: [modelWorkload('next-1', clsSource)] });
    await reconciler.idle();
    expect(calls).toEqual(['start full-1', 'start other-1', 'stop full-1', 'stop other-1', 'start next-1']);
    expect(reconciler.statuses().map((s) => s.workloadId)).toEqual(['next-1']);
    expect(errors).toEqual([expect.stringMatching(/full-1.*413/)]);
    // Not adopted again by the next start of the agent: it is no longer wanted here.
    expect((await new WorkloadStore(dataDir).load()).map((r) => r.workload.workloadId)).toEqual(['next-1']);
  });

  it('stops every other workload at shutdown when one fails to stop', async () => {
    // `stop-workloads` (npm start's Ctrl-C): a notebook whose files cannot be saved must not leave the
    // workloads after it running once the agent has gone.
    const stopped: string[] = [];
    const runtime: WorkloadRuntime = {
      name: 'docker',
      supports: () => true,
      start: async () => {},
      adopt: async () => 'started-again',
      stop: async (id) => {
        if (id === 'full-2') throw new Error('saving the files answered 413: too large');
        stopped.push(id);
      },
    };
    const reconciler = new Reconciler({
      runtimes: [runtime],
      store: new WorkloadStore(join(dir, 'shutdown-stop-fails')),
      usage: new UsageMeter(),
      hostHasGpus: () => false,
      log: silentLogger,
    });
    const workloads = ['a-2', 'full-2', 'b-2'].map((id) => modelWorkload(id, clsSource));
    await reconciler.apply({ version: 1, workloads });
    await reconciler.idle();
    await reconciler.shutdown();
    expect(stopped).toEqual(['a-2', 'b-2']);
  });

  describe('when the agent stops', () => {
    /**
     * A container runtime that serves `ready-*` at once and never finishes starting `slow-*`, beside an
     * in-process runtime (like onnx: it cannot detach) for `mem-*`. Every stop and detach is recorded.
     */
    function hostOn(dataDir: string) {
      const calls: string[] = [];
      const container: WorkloadRuntime = {
        name: 'docker',
        supports: (w) => !w.workloadId.startsWith('mem'),
        start: (w, ctx) =>
          w.workloadId.startsWith('slow')
            ? new Promise((_, reject) =>
                ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)),
              )
            : Promise.resolve(),
        adopt: async () => 'taken-back',
        stop: async (id) => void calls.push(`stop ${id}`),
        detach: async (id) => void calls.push(`detach ${id}`),
      };
      const inProcess: WorkloadRuntime = {
        name: 'onnx',
        supports: (w) => w.workloadId.startsWith('mem'),
        start: async () => {},
        adopt: async () => 'started-again',
        stop: async (id) => void calls.push(`stop ${id}`),
      };
      // A clock that moves a second at every reading: a workload started and stopped within the same
      // millisecond would otherwise meter nothing, and the metering assertions would depend on timing.
      let clock = 0;
      const usage = new UsageMeter(() => (clock += 1000));
      const store = new WorkloadStore(dataDir);
      const reconciler = new Reconciler({
        runtimes: [inProcess, container],
        store,
        usage,
        hostHasGpus: () => false,
        log: silentLogger,
      });
      return { reconciler, calls, usage, store };
    }
    // Built when called: the blob server has its source only once beforeAll ran.
    const workloads = () => ['ready-1', 'slow-1', 'mem-1'].map((id) => modelWorkload(id, clsSource));

    it('leaves the ready containers running when asked, stops the rest, and keeps every record', async () => {
      const host = hostOn(join(dir, 'leave-running'));
      await host.reconciler.apply({ version: 1, workloads: workloads() });
      await expect
        .poll(() => host.reconciler.statuses().map((s) => `${s.workloadId} ${s.phase}`))
        .toEqual(['ready-1 ready', 'slow-1 pending', 'mem-1 ready']);

      await host.reconciler.shutdown({ leaveRunning: true });
      expect(host.calls.sort()).toEqual(['detach ready-1', 'stop mem-1', 'stop slow-1']);
      // Host time is metered up to the stop, not after: the next start meters again from its own adoption.
      const metered = host.usage.drain().map((e) => e.workloadId);
      expect(metered.sort()).toEqual(['mem-1', 'ready-1']);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(host.usage.drain()).toEqual([]);

      const next = hostOn(join(dir, 'leave-running'));
      expect((await next.store.load()).map((r) => r.workload.workloadId).sort()).toEqual([
        'mem-1',
        'ready-1',
        'slow-1',
      ]);
    });

    it('stops every workload when not asked to leave them running', async () => {
      const host = hostOn(join(dir, 'stop-all'));
      await host.reconciler.apply({ version: 1, workloads: workloads() });
      await host.reconciler.shutdown();
      expect(host.calls.sort()).toEqual(['stop mem-1', 'stop ready-1', 'stop slow-1']);
      expect(await hostOn(join(dir, 'stop-all')).store.load()).toHaveLength(3);
    });
  });
});
