import { Worker } from 'node:worker_threads';
import type { Tensor } from '@meridian/protocol';
import { ModelRunError, ModelWorkerError } from './errors.js';
import type { ModelSession, ModelSignature, RunOptions, SessionOptions, TimedRun } from './session.js';
import { type FromWorker, packTensors, type ToWorker, type WorkerInit } from './worker-messages.js';

type Pending = { resolve: (run: TimedRun) => void; reject: (err: Error) => void };
type Loaded = { signature: ModelSignature; executionProviders: string[] };

// From TypeScript sources (tsx, vitest) the worker needs tsx registered first, which the shim does.
const fromSources = import.meta.url.endsWith('.ts');
const ENTRY = new URL(fromSources ? './session-worker.ts' : './session-worker.js', import.meta.url);
const SHIM = new URL('./session-worker-shim.mjs', import.meta.url);

/**
 * A session that lives in a worker thread of its own: runs are posted to it with their buffers
 * transferred, so the owner's event loop keeps reading requests while the model computes. A worker that
 * dies fails the requests it held (ModelWorkerError) and is started again for the next one.
 */
export class WorkerModelSession implements ModelSession {
  private worker: Worker | undefined;
  private starting: Promise<Worker> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private released = false;

  private constructor(
    private readonly path: string,
    private readonly options: SessionOptions,
    private readonly loaded: Loaded,
  ) {}

  get signature(): ModelSignature {
    return this.loaded.signature;
  }

  get executionProviders(): string[] {
    return this.loaded.executionProviders;
  }

  /** Starts the worker and waits until the model has loaded in it. */
  static async create(path: string, options: SessionOptions): Promise<WorkerModelSession> {
    const { worker, loaded } = await spawn(path, options);
    const session = new WorkerModelSession(path, options, loaded);
    session.adopt(worker);
    return session;
  }

  async run(inputs: Tensor[]): Promise<Tensor[]> {
    return (await this.runTimed(inputs)).outputs;
  }

  async runTimed(inputs: Tensor[], options?: RunOptions): Promise<TimedRun> {
    // Posted at once when the worker is up: a run is in the worker's queue as soon as this returns.
    const worker = this.worker ?? (await this.ready());
    const id = this.nextId++;
    const { tensors, transfer } = packTensors(inputs, options?.transferInputs === true);
    return new Promise<TimedRun>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ type: 'run', id, inputs: tensors } satisfies ToWorker, transfer);
    });
  }

  /**
   * Retires the worker as a crash would, for a watchdog (or a test): what it holds fails with `reason` at
   * once, the next run starts a new worker. The old one finishes the run under way, then exits.
   */
  async restart(reason: string): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.failPending(new ModelWorkerError(reason));
    if (!worker) return;
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.postMessage({ type: 'close' } satisfies ToWorker);
    await exited;
  }

  async release(): Promise<void> {
    this.released = true;
    await this.restart('the model was unloaded');
  }

  private async ready(): Promise<Worker> {
    if (this.released) throw new ModelWorkerError('the model was unloaded');
    if (this.worker) return this.worker;
    this.starting ??= spawn(this.path, this.options).then(
      ({ worker }) => {
        this.starting = undefined;
        if (this.released) {
          void worker.terminate();
          throw new ModelWorkerError('the model was unloaded');
        }
        this.adopt(worker);
        return worker;
      },
      (err: unknown) => {
        this.starting = undefined;
        throw err;
      },
    );
    return this.starting;
  }

  private adopt(worker: Worker): void {
    this.worker = worker;
    let crash = '';
    worker.on('message', (message: FromWorker) => this.receive(message));
    worker.on('error', (err) => {
      crash = `: ${err.message}`;
    });
    worker.on('exit', (code) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.options.log?.('model worker exited; starting a new one for the next request', { code });
      this.failPending(new ModelWorkerError(`the model worker exited (code ${code})${crash}`));
    });
  }

  private receive(message: FromWorker): void {
    if (message.type === 'log') this.options.log?.(message.message, message.fields);
    if (message.type !== 'result' && message.type !== 'error') return;
    const pending = this.pending.get(message.id);
    this.pending.delete(message.id);
    if (message.type === 'result')
      pending?.resolve({ outputs: message.outputs, computeUs: message.computeUs });
    else pending?.reject(new ModelRunError(message.message, message.inputCaused));
  }

  private failPending(err: Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(err);
  }
}

/**
 * One worker started ahead of need, once `keepSpareWorker` was called: a thread's start (onnxruntime's
 * native module, and under tsx the compilation of the worker's sources) took 1.5–2 s here, ~20× the load of
 * a small model, so a model that scales from zero would wait for it. The next model takes the spare, and
 * another is started behind it. Unreferenced while spare: it never keeps the process alive.
 */
let spare: Worker | undefined;
let keepSpare = false;

function startWorker(): Worker {
  return fromSources ? new Worker(SHIM, { workerData: { entry: ENTRY.href } }) : new Worker(ENTRY);
}

/** Keeps one worker started and waiting from now on. */
export function keepSpareWorker(): void {
  keepSpare = true;
  if (spare) return;
  const worker = startWorker();
  worker.unref();
  // A spare that fails to start is dropped; the next model starts its own worker.
  worker.on('error', () => {});
  worker.once('exit', () => {
    if (spare === worker) spare = undefined;
  });
  spare = worker;
}

/** Stops keeping a spare worker, and ends the one waiting (agent shutdown). */
export async function dropSpareWorker(): Promise<void> {
  keepSpare = false;
  const worker = spare;
  spare = undefined;
  await worker?.terminate();
}

function takeWorker(): Worker {
  const worker = spare;
  spare = undefined;
  if (keepSpare) keepSpareWorker();
  if (!worker) return startWorker();
  worker.removeAllListeners();
  worker.ref();
  return worker;
}

/** Starts a worker for one model and resolves once it has loaded (or rejects with why it could not). */
function spawn(path: string, options: SessionOptions): Promise<{ worker: Worker; loaded: Loaded }> {
  const { log, thread: _thread, ...sessionOptions } = options;
  const init: WorkerInit = { path, options: sessionOptions };
  const worker = takeWorker();
  worker.postMessage({ type: 'load', init } satisfies ToWorker);
  return new Promise((resolve, reject) => {
    const onMessage = (message: FromWorker) => {
      if (message.type === 'log') log?.(message.message, message.fields);
      if (message.type === 'failed') fail(new Error(message.message));
      if (message.type !== 'ready') return;
      worker.off('message', onMessage).off('error', fail).off('exit', onExit);
      resolve({ worker, loaded: message });
    };
    const fail = (err: Error) => {
      worker.off('message', onMessage).off('error', fail).off('exit', onExit);
      void worker.terminate();
      reject(err);
    };
    const onExit = (code: number) =>
      fail(new ModelWorkerError(`the model worker exited (code ${code}) while loading`));
    worker.on('message', onMessage).on('error', fail).on('exit', onExit);
  });
}

/** Loads a model into a worker thread of its own (SessionOptions.thread = 'worker'). */
export function createWorkerSession(path: string, options: SessionOptions): Promise<ModelSession> {
  return WorkerModelSession.create(path, options);
}
