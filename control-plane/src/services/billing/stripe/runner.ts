import type { Database } from '../../../db/client.js';
import type { Logger } from '../../../lib/logger.js';
import { RepeatingTask } from '../../../lib/repeating-task.js';
import { DatabaseLease } from '../../scheduler/lease.js';
import type { BackoffPolicy } from './backoff.js';
import { ensureMeters, type StripeCatalogue } from './catalogue.js';
import { ensureCustomer, orgsAwaitingCustomers } from './customers.js';
import { type DrainResult, drainOutbox } from './drain.js';
import { enqueueClosedWindows } from './enqueue.js';
import type { StripeGateway } from './gateway.js';
import { applyPlanChanges, type PlanChangeResult } from './plan-changes.js';
import { hasPendingRetry } from './plan-sync.js';
import { reconcileSubscriptions } from './reconcile.js';
import { SubscriptionRefused } from './subscription-refusal.js';
import { sendUsageBackfills } from './usage-backfill.js';

const HOUR_MS = 3_600_000;
/** Clock skew between whoever stamps a ledger entry's window and the database recording it. */
const RECORDED_SLACK_MS = 5 * 60_000;

export interface StripeBillingOptions {
  db: Database;
  gateway: StripeGateway;
  logger: Logger;
  /** This instance's name in the lease. */
  instanceId: string;
  /** Time between passes. Default 60 s. */
  intervalMs?: number;
  /** How long after an hour ends before it is pushed. Default 5 min. */
  windowGraceMs?: number;
  /** How long the lease lasts unrenewed. Default: three intervals, at least a minute. */
  leaseTtlMs?: number;
  concurrency?: number;
  /** Outbox rows read at a time. Default 500. */
  batchSize?: number;
  backoff?: BackoffPolicy;
  /** How often every subscription's items are compared with its org's plan. Default 1 h. */
  subscriptionCheckIntervalMs?: number;
}

export interface PassSummary {
  /** false when another instance holds the `stripe-billing` lease: this one did nothing. */
  leader: boolean;
  enqueued: number;
  customersEnsured: number;
  /** Subscriptions found out of step with their org's plan (checked once an interval); a sync is queued. */
  subscriptionsDrifted?: number;
  planChanges?: PlanChangeResult;
  /** Invoice items for usage no subscription's period covered (`sendUsageBackfills`). */
  backfills?: { sent: number; refused: number; failed: number };
  drain?: DrainResult;
}

/**
 * Keeps Stripe in step: on every pass, it makes sure the meters and prices exist, enqueues the closed windows,
 * makes customers for the orgs whose usage waits, brings subscriptions to their org's plan where a plan change
 * is queued (and, once an interval, wherever they disagree), and drains the outbox. One instance pushes at a
 * time (a lease), which keeps Stripe's one-call-per-customer-per-meter rule across instances too.
 */
export class StripeBilling {
  private readonly lease: DatabaseLease;
  private catalogue: StripeCatalogue | undefined;
  /** When the last complete enqueue scan ran; later scans look only at entries recorded since. */
  private scannedAt: number | undefined;
  /** When subscriptions were last compared with plans; the first pass compares them. */
  private subscriptionsCheckedAt: number | undefined;
  private readonly loop: RepeatingTask;

  constructor(private readonly options: StripeBillingOptions) {
    const interval = options.intervalMs ?? 60_000;
    // A slow Stripe never piles passes up: kicks during a pass coalesce into one more after it.
    this.loop = new RepeatingTask(
      () => this.runOnce().then((summary) => options.logger.debug('stripe billing pass', { ...summary })),
      {
        intervalMs: interval,
        onError: (error) => options.logger.error('stripe billing pass failed', { error }),
      },
    );
    this.lease = new DatabaseLease(
      options.db,
      'stripe-billing',
      options.instanceId,
      options.leaseTtlMs ?? Math.max(60_000, 3 * interval),
    );
  }

  start(): void {
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
    await this.lease.release().catch(() => undefined);
  }

  /** One pass; what start() repeats and what tests call. */
  async runOnce(now = Date.now()): Promise<PassSummary> {
    const { db, gateway, logger } = this.options;
    if (!(await this.lease.acquire(now))) {
      this.scannedAt = undefined;
      return { leader: false, enqueued: 0, customersEnsured: 0 };
    }
    // Read once per process, and again before an owner's retry of a refused subscription: the refusal may have
    // been an archived price the operator has since replaced, and the retry is built from the catalogue as it
    // reads now.
    if (!this.catalogue || (await hasPendingRetry(db))) this.catalogue = await ensureMeters(db, gateway);
    const graceMs = this.options.windowGraceMs ?? 5 * 60_000;
    // An entry recorded before the last scan whose window closed after it was recorded at most an hour plus
    // the grace before that scan; looking back that far (and a little more) misses nothing.
    const recordedSince =
      this.scannedAt === undefined ? undefined : this.scannedAt - HOUR_MS - graceMs - RECORDED_SLACK_MS;
    const enqueued = await enqueueClosedWindows(db, now, {
      graceMs,
      logger,
      ...(recordedSince === undefined ? {} : { recordedSince }),
    });
    this.scannedAt = now;

    let customersEnsured = 0;
    for (const orgId of await orgsAwaitingCustomers(db)) {
      try {
        await ensureCustomer(db, gateway, this.catalogue, orgId, now, logger);
        customersEnsured += 1;
      } catch (error) {
        // A refusal was logged once where it was recorded; the org waits for its plan to change.
        if (!(error instanceof SubscriptionRefused))
          logger.warn('stripe customer not created yet', { orgId, error });
      }
    }
    const subscriptionsDrifted = await this.checkSubscriptions(now);
    const planChanges = await applyPlanChanges(db, gateway, this.catalogue, {
      now,
      logger,
      ...(this.options.backoff ? { backoff: this.options.backoff } : {}),
    });
    // After plan changes: a renewal they started records the usage its first invoice is to bill too.
    const backfills = await sendUsageBackfills(db, gateway, {
      now,
      logger,
      ...(this.options.backoff ? { backoff: this.options.backoff } : {}),
    });
    return {
      leader: true,
      enqueued: enqueued.enqueued,
      customersEnsured,
      ...(subscriptionsDrifted === undefined ? {} : { subscriptionsDrifted }),
      planChanges,
      backfills,
      drain: await this.drain(now),
    };
  }

  /** Compares subscriptions with plans once an interval; how many disagreed, or undefined when not due. */
  private async checkSubscriptions(now: number): Promise<number | undefined> {
    const interval = this.options.subscriptionCheckIntervalMs ?? HOUR_MS;
    if (!this.catalogue) return undefined;
    if (this.subscriptionsCheckedAt !== undefined && now - this.subscriptionsCheckedAt < interval)
      return undefined;
    const { db, gateway, logger } = this.options;
    const { drifted } = await reconcileSubscriptions(db, gateway, this.catalogue, { now, logger });
    this.subscriptionsCheckedAt = now;
    return drifted.length;
  }

  /** Drains batch after batch while full ones come back, for at most one interval (a backlog after an outage). */
  private async drain(now: number): Promise<DrainResult> {
    const total: DrainResult = { sent: 0, duplicates: 0, failed: 0, rateLimited: false, rows: 0 };
    const batchSize = this.options.batchSize ?? 500;
    const started = Date.now();
    for (;;) {
      const batch = await drainOutbox(this.options.db, this.options.gateway, {
        now: now + (Date.now() - started),
        logger: this.options.logger,
        batchSize,
        concurrency: this.options.concurrency,
        backoff: this.options.backoff,
      });
      total.sent += batch.sent;
      total.duplicates += batch.duplicates;
      total.failed += batch.failed;
      total.rows += batch.rows;
      total.rateLimited ||= batch.rateLimited;
      const more = batch.rows === batchSize && !batch.rateLimited;
      if (!more || Date.now() - started >= (this.options.intervalMs ?? 60_000)) return total;
    }
  }
}
