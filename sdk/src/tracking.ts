import type { MeridianClient } from './client.js';
import { ConflictError, MeridianError, NetworkError } from './errors.js';
import {
  checkKey,
  checkMetricValue,
  checkStep,
  checkText,
  type KeyValue,
  LOG_BATCH_LIMITS,
  type LogBatch,
  splitIntoBatches,
} from './tracking-batches.js';
import type { Schema } from './types.js';

type Run = Schema<'Run'>;
type Experiment = Schema<'Experiment'>;
export type RunEndStatus = 'finished' | 'failed' | 'killed';

export interface StartRunOptions {
  /** The experiment's name (created when the organisation has none of that name) or its id (exp_…). */
  experiment: string;
  /** Default: the server names it `run-…`. */
  name?: string;
  /** Logged before startRun returns, so a conflict with the run's params shows at once. */
  params?: Record<string, string | number | boolean>;
  tags?: Record<string, string>;
  /** How often what is pending is sent in the background; default 5 s; 0: only on flush, end and when 1,000 are pending. */
  flushIntervalMs?: number;
  /** The most metric points kept while the server does not take them; past it logMetric throws. Default 100,000. */
  maxPending?: number;
}

const empty = (): LogBatch => ({ metrics: [], params: [], tags: [] });

/**
 * Worth sending again: the connection broke, the server was busy or failing, or the login lapsed (the
 * points are kept for when it is renewed), rather than the server refusing the batch itself.
 */
const retryable = (err: unknown) =>
  err instanceof NetworkError ||
  (err instanceof MeridianError && (err.status >= 500 || [401, 408, 429].includes(err.status)));

/**
 * A training run being logged: metrics, params and tags are kept here and sent in log-batch bodies (at most
 * one request per 1,000 points) every few seconds, on `flush()` and on `end()`, so a training loop never waits
 * on the network. A body the server could not take (no connection, 5xx, 429, 401) is kept and sent first
 * next time; one it refused (another 4xx) is dropped and its error thrown by the next `flush()` or `end()`.
 * A body keeps its Idempotency-Key when sent again, so one whose answer was lost is stored once.
 */
export class RunLogger {
  private pending = empty();
  /** Bodies cut but not yet taken, each with the Idempotency-Key it keeps on every resend. */
  private unsent: { key: string; batch: LogBatch }[] = [];
  /** Metric points in `unsent`, counted against maxPending with the pending ones. */
  private unsentPoints = 0;
  private readonly nextStep = new Map<string, number>();
  private readonly paramValues = new Map<string, string>();
  private readonly refused: unknown[] = [];
  private lastFailure: unknown;
  private queue: Promise<void> = Promise.resolve();
  private timer: ReturnType<typeof setInterval> | undefined;
  private ended = false;
  private readonly maxPending: number;

  constructor(
    private readonly client: MeridianClient,
    readonly run: Run,
    readonly experiment: Experiment,
    options: Pick<StartRunOptions, 'flushIntervalMs' | 'maxPending'> = {},
  ) {
    this.maxPending = options.maxPending ?? 100_000;
    const interval = options.flushIntervalMs ?? 5000;
    if (interval > 0) {
      this.timer = setInterval(() => this.flushInBackground(), interval);
      // A pending flush must not keep a Node process alive; end() sends what is left.
      (this.timer as { unref?: () => void }).unref?.();
    }
  }

  /** Appends a point to the metric's history; `step` defaults to one past the key's last (0 at first). */
  logMetric(key: string, value: number, step?: number): void {
    this.assertOpen();
    checkKey(key, 'metric');
    checkMetricValue(key, value);
    this.push(key, value, step);
  }

  /** Several metrics at one step (each key's own next step when `step` is left out). */
  logMetrics(values: Record<string, number>, step?: number): void {
    this.assertOpen();
    const entries = Object.entries(values);
    for (const [key, value] of entries) {
      checkKey(key, 'metric');
      checkMetricValue(key, value);
    }
    for (const [key, value] of entries) this.push(key, value, step);
  }

  /** Params are immutable: logging a key again with another value throws. */
  logParams(params: Record<string, string | number | boolean>): void {
    this.assertOpen();
    const entries = Object.entries(params).map(([key, raw]) => ({ key, value: String(raw) }));
    for (const { key, value } of entries) {
      checkKey(key, 'param');
      checkText(key, value, 'param');
      const logged = this.paramValues.get(key);
      if (logged !== undefined && logged !== value) {
        throw new TypeError(
          `param ${JSON.stringify(key)} was logged as ${JSON.stringify(logged)}; params are immutable`,
        );
      }
    }
    for (const entry of entries) {
      if (this.paramValues.has(entry.key)) continue;
      this.paramValues.set(entry.key, entry.value);
      this.pending.params.push(entry);
    }
  }

  /** Sets tags; a key set again takes the newer value. */
  setTags(tags: Record<string, string>): void {
    this.assertOpen();
    const entries = Object.entries(tags).map(([key, value]) => ({ key, value: String(value) }));
    for (const { key, value } of entries) {
      checkKey(key, 'tag');
      checkText(key, value, 'tag');
    }
    this.pending.tags = mergeTags(this.pending.tags, entries);
  }

  /** Sends everything logged so far; throws what the server refused since the last flush. */
  async flush(): Promise<void> {
    await this.serialized(() => this.send(true));
    const refused = this.refused.splice(0);
    if (refused.length > 0) throw refused[0];
  }

  /** Stores a file beside the run (a plot, a checkpoint) at `path`, replacing one there. */
  async logArtifact(path: string, data: BodyInit, contentType = 'application/octet-stream') {
    return this.client.request('put', '/v1/runs/{id}/artifacts', {
      path: { id: this.run.id },
      query: { path },
      raw: { body: data, contentType },
    });
  }

  /**
   * Sends what is pending and ends the run. When something could not be sent, it throws and the run stays
   * running, so `end()` can be called again.
   */
  async end(status: RunEndStatus = 'finished'): Promise<Run> {
    this.stopTimer();
    await this.flush();
    return this.close(status);
  }

  /** Ends the run at once with `status`, dropping what was not sent yet (for a process that gives up). */
  async abort(status: Exclude<RunEndStatus, 'finished'> = 'killed'): Promise<Run> {
    this.stopTimer();
    this.pending = empty();
    this.unsent = [];
    this.unsentPoints = 0;
    return this.close(status);
  }

  private stopTimer() {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private close(status: RunEndStatus): Promise<Run> {
    this.ended = true;
    return this.client.request('patch', '/v1/runs/{id}', {
      path: { id: this.run.id },
      body: { status, endedAt: new Date().toISOString() },
    });
  }

  private push(key: string, value: number, step: number | undefined) {
    const at = step ?? this.nextStep.get(key) ?? 0;
    checkStep(key, at);
    const waiting = this.pending.metrics.length + this.unsentPoints;
    if (waiting >= this.maxPending) {
      const why = this.lastFailure instanceof Error ? this.lastFailure.message : 'no answer yet';
      throw new Error(`${waiting} metric points are waiting to be sent (${why})`);
    }
    this.nextStep.set(key, at + 1);
    this.pending.metrics.push({ key, value, step: at, timestamp: new Date().toISOString() });
    if (this.pending.metrics.length === LOG_BATCH_LIMITS.entries) this.flushInBackground();
  }

  private flushInBackground() {
    const { metrics, params, tags } = this.pending;
    if (metrics.length + params.length + tags.length + this.unsent.length === 0) return;
    this.serialized(() => this.send(false)).catch(() => undefined);
  }

  /** One flush at a time, in the order asked, so points reach the server in the order they were logged. */
  private serialized(work: () => Promise<void>): Promise<void> {
    const next = this.queue.then(work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async send(callerWaits: boolean): Promise<void> {
    const fresh = splitIntoBatches(this.pending).map((batch) => ({ key: crypto.randomUUID(), batch }));
    const queue = [...this.unsent, ...fresh];
    this.pending = empty();
    this.unsent = [];
    this.unsentPoints = 0;
    for (const [i, { key, batch }] of queue.entries()) {
      try {
        await this.client.request('post', '/v1/runs/{id}/log-batch', {
          path: { id: this.run.id },
          headers: { 'idempotency-key': key },
          body: batch,
        });
      } catch (err) {
        // Kept bodies go first next time, under the same keys: one the server stored before its answer was
        // lost is not stored twice.
        const keep = retryable(err);
        this.unsent = queue.slice(keep ? i : i + 1);
        this.unsentPoints = this.unsent.reduce((n, u) => n + u.batch.metrics.length, 0);
        if (keep) this.lastFailure = err;
        else if (!callerWaits) this.refused.push(err);
        throw err;
      }
    }
    this.lastFailure = undefined;
  }

  private assertOpen() {
    if (this.ended) throw new Error(`run ${this.run.name} has ended; start another to log more`);
  }
}

/** `older` with `newer`'s values for the keys both have: one entry per key, as a log-batch body must have. */
function mergeTags(older: KeyValue[], newer: KeyValue[]): KeyValue[] {
  const byKey = new Map(older.map((t) => [t.key, t.value]));
  for (const t of newer) byKey.set(t.key, t.value);
  return [...byKey].map(([key, value]) => ({ key, value }));
}

/** The experiment by id, or by name, created when the organisation has none of that name. */
async function experimentFor(client: MeridianClient, ref: string): Promise<Experiment> {
  if (/^exp_/.test(ref)) return client.request('get', '/v1/experiments/{id}', { path: { id: ref } });
  const named = async () => {
    for await (const e of client.list('/v1/experiments')) if (e.name === ref) return e;
    return undefined;
  };
  const found = await named();
  if (found) return found;
  try {
    return await client.request('post', '/v1/experiments', { body: { name: ref } });
  } catch (err) {
    // Another process created it meanwhile (two runs started at once): use theirs.
    const theirs = err instanceof ConflictError ? await named() : undefined;
    if (theirs) return theirs;
    throw err;
  }
}

/** Starts a run in an experiment (by name, created if needed) and returns its logger. */
export async function startRun(client: MeridianClient, options: StartRunOptions): Promise<RunLogger> {
  const experiment = await experimentFor(client, options.experiment);
  const run = await client.request('post', '/v1/experiments/{id}/runs', {
    path: { id: experiment.id },
    body: {
      ...(options.name ? { name: options.name } : {}),
      ...(options.tags ? { tags: options.tags } : {}),
    },
  });
  const logger = new RunLogger(client, run, experiment, options);
  if (options.params) {
    try {
      logger.logParams(options.params);
      await logger.flush();
    } catch (err) {
      // The run would otherwise stay `running` with no logger left to end it.
      await logger.abort('failed').catch(() => undefined);
      throw err;
    }
  }
  return logger;
}

/**
 * Runs `work` inside a run: ended `finished` when it returns, `failed` when it throws (and then its error is
 * thrown again), with every logged point sent first.
 */
export async function withRun<T>(
  client: MeridianClient,
  options: StartRunOptions,
  work: (run: RunLogger) => Promise<T>,
): Promise<T> {
  const run = await startRun(client, options);
  let result: T;
  try {
    result = await work(run);
  } catch (err) {
    try {
      await run.end('failed');
    } catch (endErr) {
      throw new AggregateError([err, endErr], `run ${run.run.name} failed and could not be ended`);
    }
    throw err;
  }
  await run.end('finished');
  return result;
}
