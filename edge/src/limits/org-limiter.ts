import { DurableObject } from 'cloudflare:workers';
import type { UsageRecord } from '@meridian/protocol';
import { ControlPlaneClient, ControlPlaneUnavailable } from '../control-plane.js';
import type { Env } from '../env.js';
import { flushIntervalMs, flushUsage, retryDelayMs } from '../usage/flush.js';
import { UsageStore } from '../usage/usage-store.js';
import { CounterStore } from './counter-store.js';
import {
  applyReturns,
  grantLease,
  type LeaseRequest,
  type LeaseResult,
  type LeaseReturn,
} from './grant-lease.js';
import { HeldBlocks } from './held-blocks.js';

/** An isolate that has not leased for this long no longer counts when blocks are sized. */
const ACTIVE_LESSEE_MS = 30_000;

/**
 * One per org (`idFromName(orgId)`): the source of truth for its limits. Isolates lease blocks of allowance
 * from it (one call per block, not per prediction) and give unspent units back; granting is one synchronous
 * step no other request interleaves with, so blocks never add up to more than a limit. It also holds the
 * usage the edge itself records (answers from the response cache) until the control plane has acknowledged
 * it, flushing from an alarm every USAGE_FLUSH_SECONDS.
 */
export class OrgLimiter extends DurableObject<Env> {
  private readonly counters: CounterStore;
  private readonly usage: UsageStore;
  /** Whether an alarm is known to be set; spares a storage read per completed call. */
  private alarmSet = false;
  private flushing: Promise<void> | undefined;
  /** Isolates that leased lately, by id → when (memory only: it sizes blocks, nothing depends on it). */
  private readonly lessees = new Map<string, number>();
  /** Granted blocks isolates may still hold units of (memory only, see held-blocks.ts). */
  private readonly held = new HeldBlocks();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.counters = new CounterStore(ctx.storage.sql);
    this.usage = new UsageStore(ctx.storage);
  }

  /** Grants a block of every limit the isolate lacks, or none (see grantLease), after applying its returns. */
  lease(request: LeaseRequest): LeaseResult {
    const nowMs = Date.now();
    this.lessees.set(request.isolateId, nowMs);
    for (const [id, seenMs] of this.lessees) if (nowMs - seenMs > ACTIVE_LESSEE_MS) this.lessees.delete(id);
    return this.ctx.storage.transactionSync(() =>
      grantLease(this.counters, request, nowMs, this.lessees.size, this.held),
    );
  }

  /** Takes back units an isolate did not spend (or refunded after failed calls). */
  giveBack(returns: LeaseReturn[]): void {
    this.ctx.storage.transactionSync(() => applyReturns(this.counters, returns, this.held));
  }

  /** Records served calls as usage, many in one transaction (the isolate groups concurrent ones). */
  async record(records: UsageRecord[]): Promise<void> {
    this.ctx.storage.transactionSync(() => {
      for (const record of records) this.usage.add(record);
    });
    await this.ensureAlarm();
  }

  override async alarm(): Promise<void> {
    this.alarmSet = false;
    await this.flush();
  }

  /** Sends owed usage now (the alarm's work); one flush at a time. */
  flush(): Promise<void> {
    this.flushing ??= this.flushOnce().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async flushOnce(): Promise<void> {
    this.counters.prune(Date.now());
    const client = new ControlPlaneClient(this.env);
    const result = await flushUsage(this.usage, (batch) => client.sendUsage(batch), Date.now());
    const intervalMs = flushIntervalMs(this.env.USAGE_FLUSH_SECONDS);
    if (result.error === undefined) {
      this.usage.setFailures(0);
      if (this.usage.hasOpen()) await this.setAlarm(Date.now() + intervalMs);
      return;
    }
    const failures = this.usage.failures() + 1;
    this.usage.setFailures(failures);
    const delayMs = retryDelayMs(failures, intervalMs);
    const unavailable = result.error instanceof ControlPlaneUnavailable;
    console[unavailable ? 'warn' : 'error'](
      JSON.stringify({
        level: unavailable ? 'warn' : 'error',
        message: 'usage flush failed; batches kept for retry',
        error: result.error instanceof Error ? result.error.message : String(result.error),
        failures,
        retryInMs: delayMs,
      }),
    );
    await this.setAlarm(Date.now() + delayMs);
  }

  private async ensureAlarm(): Promise<void> {
    if (this.alarmSet) return;
    if ((await this.ctx.storage.getAlarm()) === null) {
      await this.ctx.storage.setAlarm(Date.now() + flushIntervalMs(this.env.USAGE_FLUSH_SECONDS));
    }
    this.alarmSet = true;
  }

  private async setAlarm(atMs: number): Promise<void> {
    await this.ctx.storage.setAlarm(atMs);
    this.alarmSet = true;
  }
}
