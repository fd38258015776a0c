import { join } from 'node:path';
import { type UsageEntry, UsageReport } from '@meridian/protocol';
import { z } from 'zod';
import { type ApiClient, describeApiError } from './api-client.js';
import { backoffMs, jitter, sleep } from './backoff.js';
import { readJsonFile, writeJsonFile } from './json-file.js';
import type { Logger } from './logger.js';
import type { UsageMeter } from './usage-meter.js';

/** `<dataDir>/usage.json`: the last seq used, and the report not yet acknowledged, if any. */
const UsageFile = z.object({ lastSeq: z.number().int().nonnegative(), pending: UsageReport.optional() });
type UsageFile = z.infer<typeof UsageFile>;

/** The protocol's bound on entries per report. */
const MAX_ENTRIES = 1000;

/**
 * Reports usage with a seq that only rises and survives restarts. A report is written to disk with its seq
 * before it is sent and sent again, unchanged, until acknowledged: the control plane counts a seq once, so
 * a retry after a lost answer never bills twice, and seconds drained into a report are never lost.
 */
export class UsageReporter {
  private readonly path: string;
  private state: UsageFile = { lastSeq: 0 };
  /** Drained entries beyond one report's bound, for the next reports. */
  private backlog: UsageEntry[] = [];

  constructor(
    dataDir: string,
    private readonly meter: UsageMeter,
    private readonly log: Logger,
  ) {
    this.path = join(dataDir, 'usage.json');
  }

  async load(): Promise<void> {
    this.state = (await readJsonFile(this.path, UsageFile)) ?? { lastSeq: 0 };
  }

  /** Sends the pending report, or a new one when the meter has accrued time. True when nothing is left. */
  async flush(api: ApiClient): Promise<boolean> {
    if (!this.state.pending) {
      this.backlog.push(...this.meter.drain());
      if (this.backlog.length === 0) return true;
      const seq = this.state.lastSeq + 1;
      this.state = { lastSeq: seq, pending: { seq, entries: this.backlog.splice(0, MAX_ENTRIES) } };
      await writeJsonFile(this.path, this.state);
    }
    const report = this.state.pending;
    if (!report) return true;
    const result = await api.reportUsage(report);
    if (!result.ok) {
      this.log.warn('usage report failed; will resend the same seq', {
        seq: report.seq,
        error: describeApiError(result.error),
      });
      return false;
    }
    this.state = { lastSeq: this.state.lastSeq };
    await writeJsonFile(this.path, this.state);
    return true;
  }

  /** Flushes every `intervalMs` (backing off while the control plane fails) until `signal` aborts. */
  async run(api: ApiClient, intervalMs: number, signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      await sleep(failures === 0 ? jitter(intervalMs) : backoffMs(failures), signal);
      const ok = await this.flush(api).catch((err: unknown) => {
        this.log.error('usage report could not be stored', { error: String(err) });
        return false;
      });
      failures = ok ? 0 : failures + 1;
    }
  }
}
