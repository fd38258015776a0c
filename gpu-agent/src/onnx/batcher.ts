import type { Tensor } from '@meridian/protocol';
import { batchKey, concatInputs, isBatchable, splitOutputs } from './batch-plan.js';
import { AdaptiveBatchPolicy, type BatchMode } from './batch-policy.js';
import { InferTimeoutError, QueueFullError } from './errors.js';
import { type LoadReading, LoadTally } from './load-tally.js';
import type { ModelRunner, RunOptions, TimedRun } from './session.js';

export type BatcherOptions = {
  model: string;
  /** Most rows one run may stack; 1 turns batching off. */
  maxBatchSize: number;
  /** How long the oldest request may wait for a fuller batch; 0 runs whatever is queued at once. */
  maxQueueDelayUs: number;
  /** Requests waiting beyond this answer QueueFullError (503). */
  maxQueueSize: number;
  /** Per request, queueing plus compute. */
  timeoutMs: number;
  /**
   * Longest wait in the queue before a run picks the request up; past it the request is shed with
   * QueueFullError (503, retry elsewhere or later) instead of waiting towards `timeoutMs`. Unset: no bound.
   */
  maxQueueWaitMs?: number;
  /**
   * Runs in flight at once on this session: default 1 for a model that batches, UNBATCHED_RUNS_IN_FLIGHT
   * for one that never does. onnxruntime-node runs a session synchronously, so a second run in flight adds
   * no parallelism and, where requests could be stacked, only splits batches.
   */
  maxConcurrentRuns?: number;
  /** Measure whether batching pays and stop batching when it does not (default true). */
  adaptive?: boolean;
  /** Called once per session run, for nv_inference_exec_count and friends. */
  onExecute?: (run: { requests: number; rows: number; computeUs: number }) => void;
};

/**
 * Runs in flight for a model that never batches, or that the adaptive policy serves unbatched.
 * onnxruntime-node starts each run from a setImmediate, so with one run in flight the queued requests ran
 * one per event-loop turn, and each turn cost a poll of the sockets: the small MLP paid ~3× the bare
 * node:http server's CPU per request (bench/agent-serving.ts). With several in flight, what is queued runs
 * in one turn, as a server calling session.run directly does.
 */
export const UNBATCHED_RUNS_IN_FLIGHT = 16;

/** Outputs of one request and where its time went. */
export type InferResult = { outputs: Tensor[]; queueUs: number; computeUs: number; batchRequests: number };

type Pending = {
  inputs: Tensor[];
  /** The caller gave up the inputs' buffers (RunOptions.transferInputs) for a run of this request alone. */
  owned: boolean;
  /** A batch job's line: queued behind every real-time request. */
  low: boolean;
  key: string;
  rows: number;
  enqueuedAt: number;
  settled: boolean;
  timer: ReturnType<typeof setTimeout>;
  shedTimer?: ReturnType<typeof setTimeout>;
  resolve: (r: InferResult) => void;
  reject: (e: unknown) => void;
};

/**
 * Queues requests to one model and runs them, stacking compatible ones along dim 0 when the model allows
 * it and the policy finds it pays. A run is assembled in a setImmediate callback, i.e. right after the
 * event loop's poll phase: every request whose bytes arrived in that turn joins the batch and nothing
 * waits for a timer. A full batch always goes at once; a partial one waits at most maxQueueDelayUs.
 */
export class DynamicBatcher {
  readonly policy = new AdaptiveBatchPolicy();
  private batchable: boolean;
  private queue: Pending[] = [];
  private inflight = 0;
  /** Requests in the runs in flight. */
  private computing = 0;
  private readonly tally = new LoadTally();
  private delayTimer: ReturnType<typeof setTimeout> | undefined;
  private dispatchScheduled = false;
  private lastBatch = Number.POSITIVE_INFINITY;

  constructor(
    private readonly runner: ModelRunner,
    private readonly options: BatcherOptions,
  ) {
    this.batchable = options.maxBatchSize > 1 && isBatchable(runner.signature);
  }

  /** 'unbatchable' for models (or configs) that never stack requests; otherwise the policy's mode. */
  get mode(): BatchMode | 'unbatchable' {
    if (!this.batchable) return 'unbatchable';
    return this.options.adaptive === false ? 'batching' : this.policy.mode;
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Requests computing and queued, now and integrated over time (the replica's load for the autoscaler). */
  load(): LoadReading {
    return this.tally.read();
  }

  private countLoad(): void {
    this.tally.set(this.computing, this.queue.length);
  }

  /** The batch size and queue delay this batcher was configured with (operators and tests read them). */
  get limits(): Pick<BatcherOptions, 'maxBatchSize' | 'maxQueueDelayUs'> {
    return { maxBatchSize: this.options.maxBatchSize, maxQueueDelayUs: this.options.maxQueueDelayUs };
  }

  /**
   * Runs one request's inputs (validated, in signature order). With `transferInputs` the caller gives up
   * their buffers, so a worker runner takes them without a copy when the request runs alone.
   */
  infer(inputs: Tensor[], options?: RunOptions & { lowPriority?: boolean }): Promise<InferResult> {
    // The head of a queue whose dispatch is already scheduled is about to run, not waiting.
    const waiting = this.queue.length - (this.dispatchScheduled ? 1 : 0);
    if (waiting >= this.options.maxQueueSize)
      return Promise.reject(new QueueFullError(this.options.model, 1));
    return new Promise<InferResult>((resolve, reject) => {
      const pending: Pending = {
        inputs,
        owned: options?.transferInputs === true,
        low: options?.lowPriority === true,
        key: this.batchable ? batchKey(inputs) : '',
        rows: this.batchable ? (inputs[0]?.shape[0] ?? 1) : 1,
        enqueuedAt: performance.now(),
        settled: false,
        resolve,
        reject,
        timer: setTimeout(() => this.expire(pending), this.options.timeoutMs),
      };
      const maxWait = this.options.maxQueueWaitMs;
      if (maxWait !== undefined) pending.shedTimer = setTimeout(() => this.shed(pending), maxWait);
      // A real-time request goes ahead of the batch lines queued (they wait, the real-time caller does not).
      const firstLow = pending.low ? -1 : this.queue.findIndex((p) => p.low);
      if (firstLow < 0) this.queue.push(pending);
      else this.queue.splice(firstLow, 0, pending);
      this.countLoad();
      this.pump();
    });
  }

  /** Rejects everything still queued (shutdown, model unload). */
  close(reason: Error): void {
    for (const p of this.queue.splice(0)) this.settle(p, () => p.reject(reason));
    this.countLoad();
    if (this.delayTimer) clearTimeout(this.delayTimer);
  }

  private expire(p: Pending): void {
    const at = this.queue.indexOf(p);
    if (at >= 0) this.queue.splice(at, 1);
    this.countLoad();
    this.settle(p, () => p.reject(new InferTimeoutError(this.options.model, this.options.timeoutMs)));
  }

  /** A request still queued after maxQueueWaitMs: answered 503 at once, so load is shed early, not late. */
  private shed(p: Pending): void {
    const at = this.queue.indexOf(p);
    if (at < 0) return;
    this.queue.splice(at, 1);
    this.countLoad();
    this.settle(p, () => p.reject(new QueueFullError(this.options.model, 1)));
  }

  private settle(p: Pending, action: () => void): void {
    if (p.settled) return;
    p.settled = true;
    clearTimeout(p.timer);
    if (p.shedTimer) clearTimeout(p.shedTimer);
    action();
  }

  private maxRuns(): number {
    if (this.options.maxConcurrentRuns !== undefined) return this.options.maxConcurrentRuns;
    // One run at a time lets the next batch gather; runs of one request each (a model the policy serves
    // unbatched, or a probe of single runs) gain nothing from that and pay the turn per run that
    // UNBATCHED_RUNS_IN_FLIGHT removes. While the policy learns, runs go one at a time as before.
    if (!this.batchable) return UNBATCHED_RUNS_IN_FLIGHT;
    if (this.options.adaptive === false) return 1;
    return this.policy.singleRunsNext ? UNBATCHED_RUNS_IN_FLIGHT : 1;
  }

  private limit(): number {
    if (!this.batchable) return 1;
    if (this.options.adaptive === false) return this.options.maxBatchSize;
    return this.policy.nextLimit(this.options.maxBatchSize, this.queue.length);
  }

  /**
   * Assembles runs after the current poll phase, when every request read in it has been queued. A request
   * alone at low load (idle model, last run a single request) goes at once: nothing would join it.
   */
  private pump(): void {
    if (this.dispatchScheduled || this.queue.length === 0) return;
    if (this.inflight >= this.maxRuns()) return;
    if (this.queue.length === 1 && this.inflight === 0 && this.lastBatch <= 1) {
      this.dispatch();
      return;
    }
    this.dispatchScheduled = true;
    setImmediate(() => {
      this.dispatchScheduled = false;
      this.dispatch();
    });
  }

  private dispatch(): void {
    // Asked before each run: a probe of single runs in flight may end with the next one.
    while (this.inflight < this.maxRuns() && this.queue.length > 0) {
      const head = this.queue[0];
      if (head === undefined) return;
      const limit = this.limit();
      const picked = [head];
      let rows = head.rows;
      for (
        let i = 1;
        i < this.queue.length && picked.length < limit && rows < this.options.maxBatchSize;
        i++
      ) {
        const p = this.queue[i];
        if (p && p.key === head.key && rows + p.rows <= this.options.maxBatchSize) {
          picked.push(p);
          rows += p.rows;
        }
      }
      const waitedUs = (performance.now() - head.enqueuedAt) * 1000;
      // Wait (at most maxQueueDelayUs) only while this batch is smaller than the last one: under steady
      // load the same number of requests comes back each round, and a big body read over several loop
      // turns is still arriving; at low load (last batch as small) nothing is held back.
      const wantsMore =
        limit > 1 &&
        rows < this.options.maxBatchSize &&
        picked.length < limit &&
        picked.length < this.lastBatch;
      if (wantsMore && waitedUs < this.options.maxQueueDelayUs) {
        if (!this.delayTimer) {
          const waitMs = Math.max(0, (this.options.maxQueueDelayUs - waitedUs) / 1000);
          this.delayTimer = setTimeout(() => {
            this.delayTimer = undefined;
            this.dispatch();
          }, waitMs);
        }
        return;
      }
      if (this.delayTimer) {
        clearTimeout(this.delayTimer);
        this.delayTimer = undefined;
      }
      this.lastBatch = picked.length;
      const chosen = new Set(picked);
      this.queue = picked.length === 1 ? this.queue.slice(1) : this.queue.filter((p) => !chosen.has(p));
      void this.execute(picked, rows);
    }
  }

  private async execute(picked: Pending[], rows: number): Promise<void> {
    this.inflight += 1;
    this.computing += picked.length;
    this.countLoad();
    const start = performance.now();
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.inflight -= 1;
      this.computing -= picked.length;
      this.countLoad();
    };
    try {
      const { outputs, computeUs } = await this.runPicked(picked);
      if (this.batchable) this.policy.record(picked.length, rows, computeUs);
      release();
      // Under steady load a run as big as the last is already queued: start it before answering this one.
      // Answering a batch (its responses encoded and written) takes the main thread milliseconds that the
      // model's thread would otherwise sit idle (PaddleOCR cls at 64 callers: ~15% fewer answers a second).
      if (this.queue.length >= this.lastBatch) this.dispatch();
      this.options.onExecute?.({ requests: picked.length, rows, computeUs });
      picked.forEach((p, k) => {
        const out = outputs[k];
        const result = { queueUs: (start - p.enqueuedAt) * 1000, computeUs, batchRequests: picked.length };
        this.settle(p, () =>
          out instanceof Error ? p.reject(out) : p.resolve({ ...result, outputs: out ?? [] }),
        );
      });
    } finally {
      release();
      this.pump();
    }
  }

  /** The model's compute time for inputs: the runner's own measure, else a stopwatch around run(). */
  private async timed(inputs: Tensor[], options?: RunOptions): Promise<TimedRun> {
    if (this.runner.runTimed) return this.runner.runTimed(inputs, options);
    const start = performance.now();
    const outputs = await this.runner.run(inputs);
    return { outputs, computeUs: (performance.now() - start) * 1000 };
  }

  /** Outputs per picked request (or the error that request alone caused) and the compute time. */
  private async runPicked(picked: Pending[]): Promise<{ outputs: (Tensor[] | Error)[]; computeUs: number }> {
    const only = picked[0];
    if (picked.length === 1 && only) {
      const run = await this.timed(only.inputs, { transferInputs: only.owned }).catch(asError);
      return run instanceof Error
        ? { outputs: [run], computeUs: 0 }
        : { outputs: [run.outputs], computeUs: run.computeUs };
    }
    try {
      // The stacked inputs are this batcher's own copy: a worker runner may take their buffers.
      const run = await this.timed(concatInputs(picked.map((p) => p.inputs)), { transferInputs: true });
      const split = splitOutputs(
        run.outputs,
        picked.map((p) => p.rows),
      );
      if (split) return { outputs: split, computeUs: run.computeUs };
      // Some output does not follow the batch dimension after all: serve this model one by one from now on.
      this.batchable = false;
    } catch {
      // One bad request must not fail its neighbours: run each alone so only the culprit sees the error.
    }
    const results: (Tensor[] | Error)[] = [];
    let computeUs = 0;
    for (const p of picked) {
      const run = await this.timed(p.inputs, { transferInputs: p.owned }).catch(asError);
      results.push(run instanceof Error ? run : run.outputs);
      computeUs += run instanceof Error ? 0 : run.computeUs;
    }
    return { outputs: results, computeUs };
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
