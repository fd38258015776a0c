import type { DesiredModelWorkload, DesiredWorkload } from '@meridian/protocol';
import type { ModelCache } from '../cache/model-cache.js';
import type { InferenceMetrics } from '../data-plane/metrics.js';
import { type ServedModel, serveModel } from '../data-plane/models.js';
import type { BatcherOptions } from '../onnx/batcher.js';
import type { LoadReading } from '../onnx/load-tally.js';
import { createModelSession, type ModelSession, type SessionOptions } from '../onnx/session.js';
import type { ServedModels } from './served-models.js';
import type { Adopted, RuntimeContext, WorkloadRuntime } from './workload-runtime.js';

type Batching = Omit<BatcherOptions, 'model' | 'onExecute'>;

export interface OnnxRuntimeOptions {
  cache: ModelCache;
  models: ServedModels;
  metrics: InferenceMetrics;
  session: Omit<SessionOptions, 'log'> & { log?: SessionOptions['log'] };
  /** The agent's batching, for workloads whose deployment chose none. */
  batching?: Batching;
}

// A request queued for more than 5 s is shed (503, Retry-After 1) rather than kept towards the 30 s timeout:
// under a flood, callers learn early to go elsewhere. Not lower: a starved CPU (a busy shared host) queues
// ordinary bursts for seconds, and those should be served, not refused.
const DEFAULT_BATCHING = {
  maxBatchSize: 32,
  maxQueueDelayUs: 0,
  maxQueueSize: 256,
  timeoutMs: 30_000,
  maxQueueWaitMs: 5_000,
};

/**
 * The deployment's batch size and queue delay where it chose them, the agent's otherwise. The adaptive
 * policy stays as the agent has it: it still stops stacking for a model where stacking does not pay.
 */
function batchingOf(workload: DesiredModelWorkload, agent: Batching): Batching {
  if (!workload.batching) return agent;
  const { maxBatchSize, maxQueueDelayMs } = workload.batching;
  return { ...agent, maxBatchSize, maxQueueDelayUs: maxQueueDelayMs * 1000 };
}

/**
 * Serves ONNX model workloads in this process: model file from the cache (signed URL, sha256 checked),
 * an onnxruntime session, registered with the data plane under the deployment id, which is the model name
 * the edge asks for.
 */
export class OnnxWorkloadRuntime implements WorkloadRuntime {
  readonly name = 'onnx';
  private readonly loaded = new Map<
    string,
    { session: ModelSession; served: ServedModel; versionId: string }
  >();

  constructor(private readonly options: OnnxRuntimeOptions) {}

  supports(workload: DesiredWorkload): boolean {
    return workload.kind === 'model' && workload.model.runtime === 'onnx';
  }

  async start(workload: DesiredWorkload, ctx: RuntimeContext): Promise<void> {
    if (workload.kind !== 'model') throw new Error('the onnx runtime serves models only');
    const { model } = workload;
    if (!model.downloadUrl) throw new Error(`model version ${model.versionId} came without a download URL`);
    const { cache } = this.options;
    ctx.report('pulling');
    cache.pin(model.versionId);
    let session: ModelSession | undefined;
    try {
      const path = await cache.ensure(model.versionId, {
        url: model.downloadUrl,
        sha256: model.sha256,
        sizeBytes: model.sizeBytes,
      });
      ctx.signal.throwIfAborted();
      ctx.report('loading');
      session = await createModelSession(path, this.options.session);
      ctx.signal.throwIfAborted();
    } catch (err) {
      cache.unpin(model.versionId);
      await session?.release();
      throw err;
    }
    const name = workload.deploymentId;
    const served = serveModel(
      session,
      { name, version: model.versionId },
      batchingOf(workload, this.options.batching ?? DEFAULT_BATCHING),
      this.options.metrics,
    );
    this.options.models.add(served);
    this.loaded.set(workload.workloadId, { session, served, versionId: model.versionId });
  }

  /** Each loaded replica's load so far (its batcher's tally), for the autoscaler's load reports. */
  loads(): { workloadId: string; load: LoadReading }[] {
    return [...this.loaded].map(([workloadId, entry]) => ({ workloadId, load: entry.served.batcher.load() }));
  }

  /**
   * New batch settings on the session already loaded: a batcher built with them takes every new request,
   * and the old one finishes the requests it holds. Nothing is loaded again, and no call is dropped.
   */
  reconfigure(workload: DesiredWorkload): boolean {
    const entry = this.loaded.get(workload.workloadId);
    if (!entry || workload.kind !== 'model') return false;
    const served = serveModel(
      entry.session,
      { name: entry.served.name, version: entry.served.version },
      batchingOf(workload, this.options.batching ?? DEFAULT_BATCHING),
      this.options.metrics,
    );
    this.options.models.replace(entry.served, served);
    entry.served = served;
    return true;
  }

  /** Sessions live in memory only, so a workload from before a restart is loaded again (from the cache). */
  async adopt(workload: DesiredWorkload, ctx: RuntimeContext): Promise<Adopted> {
    await this.start(workload, ctx);
    return 'started-again';
  }

  async stop(workloadId: string): Promise<void> {
    const entry = this.loaded.get(workloadId);
    if (!entry) return;
    this.loaded.delete(workloadId);
    this.options.models.remove(entry.served);
    this.options.cache.unpin(entry.versionId);
    await entry.session.release();
  }
}
