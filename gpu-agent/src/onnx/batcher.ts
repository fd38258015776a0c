import type { Tensor } from '@meridian/protocol';
import { batchKey, concatInputs, isBatchable, splitOutputs } from './batch-plan.js';
import { AdaptiveBatchPolicy, type BatchMode } from './batch-policy.js';
import { InferTimeoutError, QueueFullError } from './errors.js';
import type { ModelRunner } from './session.js';

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
  /** Runs in flight at once on this session. */
  maxConcurrentRuns?: number;
  /** Measure whether batching pays and stop batching when it does not (default true). */
  adaptive?: boolean;
  /** Called once per session run, for nv_inference_exec_count and friends. */
  onExecute?: (run: { requests: number; rows: number; computeUs: number }) => void;
};

/** Outputs of one request and where its time went. */
export type InferResult = { outputs: Tensor[]; queueUs: number; computeUs: number; batchRequests: number };

type Pending = {
  inputs: Tensor[];
  key: string;
  rows: number;
  enqueuedAt: number;
  settled: boolean;
  timer: ReturnType<typeof setTimeout>;
  resolve: (r: InferResult) => void;
  reject: (e: unknown) => void;
};

/**
 * Queues requests to one model and runs them, stacking compatible ones along dim 0 when the model allows
 * it and the policy finds it pays. A run starts as soon as the session is free (no waiting at low load)
 * unless maxQueueDelayUs asks to wait for a fuller batch.
 */
export class DynamicBatcher {
  readonly policy = new AdaptiveBatchPolicy();
  private batchable: boolean;
  private queue: Pending[] = [];
  private inflight = 0;
  private delayTimer: ReturnType<typeof setTimeout> | undefined;

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

  /** Runs one request's inputs (validated, in signature order). */
  infer(inputs: Tensor[]): Promise<InferResult> {
    if (this.queue.length >= this.options.maxQueueSize)
      return Promise.reject(new QueueFullError(this.options.model, 1));
    return new Promise<InferResult>((resolve, reject) => {
      const pending: Pending = {
        inputs,
        key: this.batchable ? batchKey(inputs) : '',
        rows: this.batchable ? (inputs[0]?.shape[0] ?? 1) : 1,
        enqueuedAt: performance.now(),
        settled: false,
        resolve,
        reject,
        timer: setTimeout(() => this.expire(pending), this.options.timeoutMs),
      };
      this.queue.push(pending);
      this.pump();
    });
  }

  /** Rejects everything still queued (shutdown, model unload). */
  close(reason: Error): void {
    for (const p of this.queue.splice(0)) this.settle(p, () => p.reject(reason));
    if (this.delayTimer) clearTimeout(this.delayTimer);
  }

  private expire(p: Pending): void {
    const at = this.queue.indexOf(p);
    if (at >= 0) this.queue.splice(at, 1);
    this.settle(p, () => p.reject(new InferTimeoutError(this.options.model, this.options.timeoutMs)));
  }

  private settle(p: Pending, action: () => void): void {
    if (p.settled) return;
    p.settled = true;
    clearTimeout(p.timer);
    action();
  }

  private limit(): number {
    if (!this.batchable) return 1;
    if (this.options.adaptive === false) return this.options.maxBatchSize;
    return this.policy.nextLimit(this.options.maxBatchSize, this.queue.length);
  }

  private pump(): void {
    const maxRuns = this.options.maxConcurrentRuns ?? 1;
    while (this.inflight < maxRuns && this.queue.length > 0) {
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
      const wantsMore = limit > 1 && rows < this.options.maxBatchSize && picked.length < limit;
      if (wantsMore && waitedUs < this.options.maxQueueDelayUs) {
        if (!this.delayTimer) {
          const waitMs = Math.max(0, (this.options.maxQueueDelayUs - waitedUs) / 1000);
          this.delayTimer = setTimeout(() => {
            this.delayTimer = undefined;
            this.pump();
          }, waitMs);
        }
        return;
      }
      const chosen = new Set(picked);
      this.queue = picked.length === 1 ? this.queue.slice(1) : this.queue.filter((p) => !chosen.has(p));
      void this.execute(picked, rows);
    }
  }

  private async execute(picked: Pending[], rows: number): Promise<void> {
    this.inflight += 1;
    const start = performance.now();
    try {
      const outputs = await this.runPicked(picked);
      const computeUs = (performance.now() - start) * 1000;
      if (this.batchable) this.policy.record(picked.length, rows, computeUs);
      this.options.onExecute?.({ requests: picked.length, rows, computeUs });
      picked.forEach((p, k) => {
        const out = outputs[k];
        const result = { queueUs: (start - p.enqueuedAt) * 1000, computeUs, batchRequests: picked.length };
        this.settle(p, () =>
          out instanceof Error ? p.reject(out) : p.resolve({ ...result, outputs: out ?? [] }),
        );
      });
    } finally {
      this.inflight -= 1;
      this.pump();
    }
  }

  /** Outputs per picked request, or the error that request alone caused. */
  private async runPicked(picked: Pending[]): Promise<(Tensor[] | Error)[]> {
    const only = picked[0];
    if (picked.length === 1 && only) return [await this.runner.run(only.inputs).catch(asError)];
    try {
      const outputs = await this.runner.run(concatInputs(picked.map((p) => p.inputs)));
      const split = splitOutputs(
        outputs,
        picked.map((p) => p.rows),
      );
      if (split) return split;
      // Some output does not follow the batch dimension after all: serve this model one by one from now on.
      this.batchable = false;
    } catch {
      // One bad request must not fail its neighbours: run each alone so only the culprit sees the error.
    }
    const results: (Tensor[] | Error)[] = [];
    for (const p of picked) results.push(await this.runner.run(p.inputs).catch(asError));
    return results;
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
