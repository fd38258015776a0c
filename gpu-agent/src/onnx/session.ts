import { stat } from 'node:fs/promises';
import type { Tensor, TensorMetadata } from '@meridian/protocol';
import { InferenceSession } from 'onnxruntime-node';
import { fromOrtTensor, OIP_BY_ORT_TYPE, toOrtTensor } from './convert.js';
import { modelRunError } from './errors.js';
import { createWorkerSession } from './worker-session.js';

/** What the agent knows about a model's inputs and outputs (-1 for a dynamic dimension). */
export type ModelSignature = { inputs: TensorMetadata[]; outputs: TensorMetadata[] };

/** Outputs of one run and the time the model itself took (µs), without event-loop waits. */
export type TimedRun = { outputs: Tensor[]; computeUs: number };

/** How a caller hands inputs to a run. */
export type RunOptions = {
  /**
   * The caller gives up the inputs' buffers: a runner in another thread may transfer (detach) them instead
   * of copying. The batcher sets it for the batches it stacks and for requests whose owner gave them up.
   */
  transferInputs?: boolean;
};

/** Anything that runs inputs (in signature order) to outputs (in signature order). */
export interface ModelRunner {
  readonly signature: ModelSignature;
  run(inputs: Tensor[]): Promise<Tensor[]>;
  /** Like run, and reports the compute time alone; runners without it are timed around run(). */
  runTimed?(inputs: Tensor[], options?: RunOptions): Promise<TimedRun>;
}

/** A loaded onnxruntime session. */
export interface ModelSession extends ModelRunner {
  /** The execution providers the session actually runs with. */
  readonly executionProviders: string[];
  runTimed(inputs: Tensor[], options?: RunOptions): Promise<TimedRun>;
  release(): Promise<void>;
}

export type SessionOptions = {
  /** e.g. ['cuda', 'cpu']; when a provider cannot load, the session falls back to ['cpu']. */
  executionProviders: string[];
  intraOpNumThreads?: number;
  interOpNumThreads?: number;
  log?: (message: string, fields: Record<string, unknown>) => void;
  /**
   * Where session.run executes. onnxruntime-node runs it synchronously on the calling JS thread, so
   * 'worker' (a worker thread per model) lets HTTP and codec work overlap compute on another core;
   * 'main' saves the ~50 µs message round trip, which wins for models that run in microseconds.
   * 'auto' (default) picks 'worker' for model files of WORKER_MIN_MODEL_BYTES and more.
   */
  thread?: 'auto' | 'main' | 'worker';
};

/**
 * Measured with bench/agent-serving.ts (2 cores): a 38 KB MLP (13 µs a run) serves faster on the main
 * thread, the 579 KB PaddleOCR cls (0.6–1 ms a run) faster in a worker. File size is a crude proxy for
 * compute, and cheap to know before loading; set `thread` where it misleads.
 */
export const WORKER_MIN_MODEL_BYTES = 256 * 1024;

function describe(value: InferenceSession.ValueMetadata): TensorMetadata {
  if (!value.isTensor) throw new Error(`'${value.name}' is not a tensor; only tensor models are served`);
  const datatype = OIP_BY_ORT_TYPE[value.type];
  if (datatype === undefined)
    throw new Error(`'${value.name}' has type ${value.type}, which OIP cannot carry`);
  return {
    name: value.name,
    datatype,
    shape: value.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)),
  };
}

async function create(path: string, providers: string[], options: SessionOptions): Promise<InferenceSession> {
  return InferenceSession.create(path, {
    executionProviders: providers,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: options.intraOpNumThreads ?? 1,
    interOpNumThreads: options.interOpNumThreads ?? 1,
    // Fatal only: a run that fails is reported (and logged once) by the data plane with its request id.
    logSeverityLevel: 4,
  });
}

/**
 * Loads a model file, in a worker thread or on this one (see SessionOptions.thread). A GPU provider that
 * cannot load (no CUDA libraries, no device) is logged and the session is created again on the CPU, so a
 * host without a working GPU still serves.
 */
export async function createModelSession(path: string, options: SessionOptions): Promise<ModelSession> {
  const thread = options.thread ?? 'auto';
  const inWorker =
    thread === 'worker' || (thread === 'auto' && (await stat(path)).size >= WORKER_MIN_MODEL_BYTES);
  if (!inWorker) return createInThreadSession(path, options);
  return createWorkerSession(path, options);
}

/** Loads a model file into a session that runs on the calling thread. */
export async function createInThreadSession(path: string, options: SessionOptions): Promise<ModelSession> {
  let providers = options.executionProviders;
  let session: InferenceSession;
  try {
    session = await create(path, providers, options);
  } catch (err) {
    if (providers.length === 1 && providers[0] === 'cpu') throw err;
    options.log?.('execution providers failed to load; falling back to cpu', {
      requested: providers,
      reason: err instanceof Error ? err.message : String(err),
    });
    providers = ['cpu'];
    session = await create(path, providers, options);
  }
  const signature: ModelSignature = {
    inputs: session.inputMetadata.map(describe),
    outputs: session.outputMetadata.map(describe),
  };
  const outputNames = signature.outputs.map((o) => o.name);
  /**
   * onnxruntime-node 1.30 runs a session synchronously on the JS thread inside a setImmediate callback
   * (backend.js), so a stopwatch around `await session.run` also counts the event-loop turn before it
   * and every callback queued ahead of it. A marker immediate queued just before the run fires right
   * before onnxruntime's own and starts the clock; the continuation after the await stops it.
   */
  async function runTimed(inputs: Tensor[]): Promise<TimedRun> {
    const feeds: Record<string, ReturnType<typeof toOrtTensor>> = {};
    for (const t of inputs) feeds[t.name] = toOrtTensor(t);
    let started = Number.NaN;
    setImmediate(() => {
      started = performance.now();
    });
    const begun = performance.now();
    const results = await session.run(feeds).catch((err: unknown) => {
      throw modelRunError(err);
    });
    const ended = performance.now();
    const outputs = outputNames.map((name) => {
      const value = results[name];
      if (value === undefined) throw new Error(`onnxruntime returned no '${name}'`);
      return fromOrtTensor(name, value);
    });
    return { outputs, computeUs: (ended - (Number.isNaN(started) ? begun : started)) * 1000 };
  }
  return {
    signature,
    executionProviders: providers,
    runTimed,
    run: async (inputs) => (await runTimed(inputs)).outputs,
    release: () => session.release(),
  };
}
