import type { Database } from '../../db/client.js';
import type { Logger } from '../../lib/logger.js';
import { RepeatingTask } from '../../lib/repeating-task.js';
import { sampleStorage } from './storage-sampler.js';

/** A periodic billing task; it receives the pass's time and must be safe to rerun (ids are deterministic). */
export type BillingJob = (now: number) => Promise<unknown>;

export const DEFAULT_BILLING_INTERVAL_MS = 60_000;

/**
 * Runs billing's periodic jobs, one pass at a time: every job in the order added, each on its own so one
 * failing (logged) does not stop the others, then a wait of `intervalMs` before the next pass. Every
 * instance of the control plane may run them: the jobs write deterministic ids, so a pass done twice adds
 * nothing.
 */
export class BillingJobs {
  private readonly jobs: { name: string; run: BillingJob }[] = [];
  private readonly loop: RepeatingTask;

  constructor(private readonly options: { logger: Logger; intervalMs?: number; now?: () => number }) {
    this.loop = new RepeatingTask(() => this.runOnce(), {
      intervalMs: options.intervalMs ?? DEFAULT_BILLING_INTERVAL_MS,
      onError: (error) => options.logger.error('billing pass failed', { error }),
    });
  }

  /** Adds a job to every pass from the next one on; names appear in logs. */
  add(name: string, run: BillingJob): this {
    if (this.jobs.some((j) => j.name === name)) throw new Error(`billing job ${name} added twice`);
    this.jobs.push({ name, run });
    return this;
  }

  /** Runs a pass now, then one every interval until stop(). */
  start(): void {
    this.loop.start();
  }

  /** Stops scheduling passes and waits for the one under way, if any. */
  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** One pass of every job; what start() repeats, and what tests call. */
  async runOnce(): Promise<void> {
    const now = (this.options.now ?? Date.now)();
    for (const job of this.jobs) {
      const started = performance.now();
      try {
        const result = await job.run(now);
        this.options.logger.debug('billing job done', {
          job: job.name,
          ms: Math.round(performance.now() - started),
          result,
        });
      } catch (error) {
        this.options.logger.error('billing job failed', { job: job.name, error });
      }
    }
  }
}

/** The jobs the control plane runs: storage sampling; the Stripe push adds itself with `add`. */
export function billingJobs(db: Database, logger: Logger, intervalMs?: number): BillingJobs {
  return new BillingJobs({ logger, ...(intervalMs === undefined ? {} : { intervalMs }) }).add(
    'storage-sample',
    (now) => sampleStorage(db, now),
  );
}
