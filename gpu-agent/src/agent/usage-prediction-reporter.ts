import type { PredictionUsageReport } from '@meridian/protocol';
import { type ApiClient, type ApiError, describeApiError, isRetryable } from './api-client.js';
import { backoffMs, jitter, sleep } from './backoff.js';
import type { Logger } from './logger.js';
import type { UsageJournal } from './usage-journal.js';

/** Whether a refused report is worth sending again unchanged: not when the control plane read it and said no. */
function worthResending(error: ApiError): boolean {
  // 401: a credential problem an operator fixes; 404: a control plane that does not know the route yet.
  return isRetryable(error) || (error.kind === 'http' && (error.status === 401 || error.status === 404));
}

/**
 * Seals the usage journal every interval and sends its sealed parts, oldest first, each until the control
 * plane acknowledges it. A part is stored once under its (agent, seq, part) however often it is sent, so a
 * retry after a lost answer never bills twice; a part is dropped only once acknowledged (or refused for good).
 */
export class PredictionUsageReporter {
  constructor(
    private readonly journal: UsageJournal,
    private readonly log: Logger,
  ) {}

  /** Seals, then sends what is sealed. True when nothing is left to send. */
  async flush(api: ApiClient): Promise<boolean> {
    await this.journal.seal();
    for (const report of await this.journal.unacknowledged()) {
      if (!(await this.send(api, report))) return false;
    }
    return true;
  }

  private async send(api: ApiClient, report: PredictionUsageReport): Promise<boolean> {
    const result = await api.reportPredictionUsage(report);
    if (result.ok) {
      if (result.value.refused > 0)
        this.log.warn('the control plane refused prediction usage this agent may not bill', {
          seq: report.seq,
          part: report.part,
          refused: result.value.refused,
        });
      await this.journal.acknowledge(report.seq, report.part);
      return true;
    }
    if (worthResending(result.error)) {
      this.log.warn('prediction usage report failed; will resend it', {
        seq: report.seq,
        part: report.part,
        error: describeApiError(result.error),
      });
      return false;
    }
    this.log.error('prediction usage report refused; dropped', {
      seq: report.seq,
      part: report.part,
      calls: report.records.reduce((n, r) => n + r.calls, 0),
      error: describeApiError(result.error),
    });
    await this.journal.acknowledge(report.seq, report.part);
    return true;
  }

  /** Flushes every `intervalMs` (backing off while the control plane fails) until `signal` aborts. */
  async run(api: ApiClient, intervalMs: number, signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      await sleep(failures === 0 ? jitter(intervalMs) : Math.max(intervalMs, backoffMs(failures)), signal);
      if (signal.aborted) break;
      const ok = await this.flush(api).catch((err: unknown) => {
        this.log.error('prediction usage could not be sealed', { error: String(err) });
        return false;
      });
      failures = ok ? 0 : failures + 1;
    }
  }
}
