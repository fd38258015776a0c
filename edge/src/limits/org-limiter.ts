import { DurableObject } from 'cloudflare:workers';
import { ControlPlaneClient, ControlPlaneUnavailable } from '../control-plane.js';
import type { Env } from '../env.js';
import { flushIntervalMs, flushUsage, retryDelayMs } from '../usage/flush.js';
import { minuteOf, UsageStore } from '../usage/usage-store.js';
import {
  checkAndConsume,
  type LimitCheck,
  type LimitRequest,
  QUOTA_POLICY,
  QUOTA_SCOPE,
} from './check-limits.js';
import { CounterStore } from './counter-store.js';

/** How an admitted call ended, reported after the response. */
export interface CallCompletion {
  orgId: string;
  keyId: string | null;
  userId: string | null;
  deploymentId: string;
  /** Whether the call was served; a failed call gets its quota unit back and is not counted as usage. */
  ok: boolean;
  bytesIn: number;
  bytesOut: number;
  /** When it was admitted (the limiter's clock): its usage minute. */
  admittedAtMs: number;
  /** The quota window its unit came from. */
  quotaWindowStartMs: number;
}

/**
 * One per org (`idFromName(orgId)`), and every admission of the org passes through it, so its limits are
 * exact: each named limit of each key and the org's monthly quota are checked and consumed in one
 * synchronous step that no other request can interleave with. It also holds the org's usage until the
 * control plane has acknowledged it, flushing from an alarm every USAGE_FLUSH_SECONDS.
 *
 * The cost of exactness is one round trip to this object per call, from wherever the call lands.
 */
export class OrgLimiter extends DurableObject<Env> {
  private readonly counters: CounterStore;
  private readonly usage: UsageStore;
  /** Whether an alarm is known to be set; spares a storage read per completed call. */
  private alarmSet = false;
  private flushing: Promise<void> | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.counters = new CounterStore(ctx.storage.sql);
    this.usage = new UsageStore(ctx.storage);
  }

  /** Admits one call if every limit has room, consuming from all of them; otherwise consumes nothing. */
  admit(request: LimitRequest): LimitCheck {
    return this.ctx.storage.transactionSync(() => checkAndConsume(this.counters, request, Date.now()));
  }

  /** Counts a served call as usage, or gives a failed call's quota unit back (never its rate-limit units). */
  async complete(completion: CallCompletion): Promise<void> {
    if (!completion.ok) {
      this.counters.refund(QUOTA_SCOPE, QUOTA_POLICY, completion.quotaWindowStartMs);
      return;
    }
    this.usage.add({
      orgId: completion.orgId,
      keyId: completion.keyId,
      userId: completion.userId,
      deploymentId: completion.deploymentId,
      minute: minuteOf(completion.admittedAtMs),
      calls: 1,
      bytesIn: completion.bytesIn,
      bytesOut: completion.bytesOut,
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
