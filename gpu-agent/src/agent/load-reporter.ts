import type { AgentLoadReport, ReplicaLoad } from '@meridian/protocol';
import type { LoadReading } from '../onnx/load-tally.js';
import { type ApiClient, describeApiError } from './api-client.js';
import { sleep } from './backoff.js';
import type { Logger } from './logger.js';

/** Each replica this agent serves, with its batcher's load so far. */
export type LoadSource = () => { workloadId: string; load: LoadReading }[];

/**
 * The average of requests in flight over a window, as the whole number the report carries: any load at all
 * is at least 1 (a replica that served a call in the window is not idle, or scale to zero would strand light traffic),
 * larger averages are rounded.
 */
export function wholeLoad(average: number): number {
  if (average <= 0) return 0;
  return Math.max(1, Math.round(average));
}

/**
 * Reports each replica's load (`POST /agent/v1/load`) about once an interval: the time-weighted average of
 * its requests computing and queued over the interval, so a burst between two reports still counts. A
 * report goes out while any replica is busy or when the figures changed since the last one sent (the last
 * idle report included); while every replica stays idle, nothing is sent.
 */
export class LoadReporter {
  private previous = new Map<string, LoadReading>();
  private readAt = performance.now();
  /** What the control plane last accepted, as comparable text; undefined before the first report. */
  private lastSent: string | undefined;
  private failing = false;

  constructor(
    private readonly source: LoadSource,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** The report for the interval since the last call. */
  measure(): AgentLoadReport {
    const at = performance.now();
    const elapsed = Math.max(at - this.readAt, 1);
    const next = new Map<string, LoadReading>();
    const replicas: ReplicaLoad[] = [];
    for (const { workloadId, load } of this.source()) {
      next.set(workloadId, load);
      const before = this.previous.get(workloadId);
      replicas.push({
        workloadId,
        inFlight: wholeLoad((load.inFlightMs - (before?.inFlightMs ?? 0)) / elapsed),
        // Rounded only: nearly every call waits a few microseconds for its run, which is not a queue.
        queued: Math.round((load.queuedMs - (before?.queuedMs ?? 0)) / elapsed),
      });
    }
    this.previous = next;
    this.readAt = at;
    replicas.sort((a, b) => a.workloadId.localeCompare(b.workloadId));
    return { sentAt: this.now(), replicas };
  }

  /** Measures and sends when busy or changed; whether a report went out and was accepted. */
  async tick(api: ApiClient): Promise<boolean> {
    const report = this.measure();
    const figures = JSON.stringify(report.replicas);
    const busy = report.replicas.some((r) => r.inFlight > 0 || r.queued > 0);
    if (!busy && figures === this.lastSent) return false;
    const result = await api.reportLoad(report);
    if (!result.ok) {
      // One line per failing streak: the next tick sends again (its figures differ from the last sent).
      if (!this.failing) this.log.warn('load report failed', { error: describeApiError(result.error) });
      this.failing = true;
      return false;
    }
    this.failing = false;
    this.lastSent = figures;
    return true;
  }

  async run(api: ApiClient, intervalMs: number, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await sleep(intervalMs, signal);
      if (signal.aborted) return;
      await this.tick(api);
    }
  }
}
