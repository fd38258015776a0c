import { randomUUID } from 'node:crypto';
import type { AgentMonitoringReport } from '@meridian/protocol';
import { type ApiClient, describeApiError } from '../agent/api-client.js';
import { backoffMs, jitter, sleep } from '../agent/backoff.js';
import type { Logger } from '../agent/logger.js';
import type { DeploymentMonitor } from './deployment-monitor.js';

/** Reports kept for resending while the control plane is away; older ones are dropped (monitoring, not billing). */
const MAX_PENDING = 60;
const MAX_METRICS = 5_000;
/** Sketches per report: a sketch is up to a few KB, and a report must stay under the route's 8 MB. */
const MAX_SKETCHES = 1_000;

/**
 * Every interval, drains the monitor into a report (per-deployment queue and compute figures, drift sketches)
 * and sends what is owed, oldest first. A report keeps its id across retries, so the control plane counts it
 * once; one that cannot be sent waits for the next interval.
 */
export class MonitoringReporter {
  private pending: AgentMonitoringReport[] = [];
  private seq = 0;
  private readonly boot = randomUUID().slice(0, 13);

  constructor(
    private readonly monitor: DeploymentMonitor,
    private readonly log: Logger,
  ) {}

  /** Seals what the monitor holds, then sends. True when nothing is left to send. */
  async flush(api: ApiClient): Promise<boolean> {
    const metrics = this.monitor.drainMetrics();
    const drift = this.monitor.drift.drain();
    const parts = Math.max(Math.ceil(metrics.length / MAX_METRICS), Math.ceil(drift.length / MAX_SKETCHES));
    for (let i = 0; i < parts; i += 1) {
      this.seq += 1;
      this.pending.push({
        reportId: `${this.boot}:${this.seq}`,
        metrics: metrics.slice(i * MAX_METRICS, (i + 1) * MAX_METRICS),
        drift: drift.slice(i * MAX_SKETCHES, (i + 1) * MAX_SKETCHES),
      });
    }
    if (this.pending.length > MAX_PENDING) this.pending.splice(0, this.pending.length - MAX_PENDING);
    while (this.pending.length > 0) {
      const report = this.pending[0];
      if (!report) break;
      const result = await api.reportMonitoring(report);
      if (!result.ok) {
        this.log.warn('monitoring report failed; will resend it', {
          reportId: report.reportId,
          error: describeApiError(result.error),
        });
        return false;
      }
      this.pending.shift();
    }
    return true;
  }

  /** Flushes every `intervalMs` (backing off while the control plane fails) until `signal` aborts. */
  async run(api: ApiClient, intervalMs: number, signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      await sleep(failures === 0 ? jitter(intervalMs) : Math.max(intervalMs, backoffMs(failures)), signal);
      if (signal.aborted) break;
      const ok = await this.flush(api).catch((err: unknown) => {
        this.log.error('monitoring report could not be made', { error: String(err) });
        return false;
      });
      failures = ok ? 0 : failures + 1;
    }
  }
}
