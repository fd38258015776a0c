import type { Database } from '../../db/client.js';
import type { Logger } from '../../lib/logger.js';
import { RepeatingTask } from '../../lib/repeating-task.js';
import { type DispatchSettings, dispatchDue } from '../notifications/dispatcher.js';
import { DatabaseLease } from '../scheduler/lease.js';
import { evaluateRules } from './evaluate-rules.js';
import { pruneMonitoring } from './retention.js';

export interface MonitoringJobsOptions {
  db: Database;
  logger: Logger;
  instanceId: string;
  /** How often rules are evaluated and due notifications sent. */
  evaluateIntervalMs: number;
  dispatch: DispatchSettings;
}

const PRUNE_EVERY_MS = 3_600_000;

/**
 * The monitoring loops, run by whichever control-plane instance holds the `monitoring` lease: rule
 * evaluation (and retention, hourly) on one task, notification delivery on another, so a webhook that hangs
 * until its timeout never delays evaluation.
 */
export class MonitoringJobs {
  private readonly lease: DatabaseLease;
  private readonly evaluator: RepeatingTask;
  private readonly dispatcher: RepeatingTask;
  private holding = false;
  private lastPrune = 0;

  constructor(private readonly options: MonitoringJobsOptions) {
    const ttl = Math.max(15_000, options.evaluateIntervalMs * 3);
    this.lease = new DatabaseLease(options.db, 'monitoring', options.instanceId, ttl);
    const onError = (error: unknown) => options.logger.warn('monitoring job failed', { error });
    this.evaluator = new RepeatingTask(() => this.evaluate(), {
      intervalMs: options.evaluateIntervalMs,
      onError,
    });
    this.dispatcher = new RepeatingTask(() => this.dispatch(), {
      intervalMs: Math.min(1_000, options.evaluateIntervalMs),
      onError,
    });
  }

  start(): void {
    this.evaluator.start();
    this.dispatcher.start();
  }

  async stop(): Promise<void> {
    await Promise.all([this.evaluator.stop(), this.dispatcher.stop()]);
    if (this.holding) await this.lease.release();
  }

  private async evaluate(): Promise<void> {
    this.holding = await this.lease.acquire();
    if (!this.holding) return;
    const now = Date.now();
    const events = await evaluateRules(this.options.db, now);
    if (events > 0) this.dispatcher.kick();
    if (now - this.lastPrune >= PRUNE_EVERY_MS) {
      this.lastPrune = now;
      await pruneMonitoring(this.options.db, now);
    }
  }

  private async dispatch(): Promise<void> {
    if (!this.holding) return;
    // Several passes while work is due: a pass takes PARALLEL deliveries at a time.
    for (let pass = 0; pass < 10; pass += 1) {
      if (
        (await dispatchDue(this.options.db, { logger: this.options.logger, ...this.options.dispatch })) === 0
      )
        return;
    }
  }
}
