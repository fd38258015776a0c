import type { UsageBatch, UsageBatchAck } from '@meridian/protocol';
import type { UsageStore } from './usage-store.js';

/** Delivers one batch; resolves once the control plane has stored it, rejects when it has not. */
export type SendBatch = (batch: UsageBatch) => Promise<UsageBatchAck>;

export interface FlushResult {
  /** Batch ids the control plane acknowledged in this flush, in order. */
  sent: string[];
  /** Why the flush stopped early; the unsent batches stay stored. */
  error?: unknown;
}

/** Longest wait between retries while the control plane is unavailable. */
export const MAX_RETRY_DELAY_MS = 5 * 60_000;

/**
 * Sends what is owed: first the batches sealed before (they keep their ids), then, if all of those went
 * through, the open counters sealed into new batches. A batch is deleted only once acknowledged
 * (`accepted: false` means the control plane already had it); the first failure stops the flush.
 */
export async function flushUsage(store: UsageStore, send: SendBatch, nowMs: number): Promise<FlushResult> {
  const sent: string[] = [];
  for (const phase of [() => store.pending(), () => store.seal(nowMs)]) {
    for (const batch of phase()) {
      try {
        const ack = await send(batch);
        if (ack.batchId !== batch.batchId) {
          throw new Error(`control plane acknowledged ${ack.batchId} for batch ${batch.batchId}`);
        }
      } catch (error) {
        return { sent, error };
      }
      store.remove(batch.batchId);
      sent.push(batch.batchId);
    }
  }
  return { sent };
}

/**
 * Capped exponential backoff after `failures` consecutive failed flushes (1, 2, …): the flush interval
 * doubled per failure, at most MAX_RETRY_DELAY_MS, spread by ±20 % so that every org's limiter does not
 * retry in the same second once the control plane is back.
 */
export function retryDelayMs(
  failures: number,
  intervalMs: number,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 30);
  const delay = Math.min(MAX_RETRY_DELAY_MS, intervalMs * 2 ** exponent);
  return Math.min(MAX_RETRY_DELAY_MS, Math.round(delay * (0.8 + 0.4 * random())));
}

/** USAGE_FLUSH_SECONDS (default 10) in ms. */
export function flushIntervalMs(raw: string | undefined): number {
  const seconds = raw === undefined || raw === '' ? 10 : Number(raw);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new Error(`USAGE_FLUSH_SECONDS must be a positive number, got ${JSON.stringify(raw)}`);
  }
  return seconds * 1000;
}
