import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import type { LogLine, LogQuery, WorkloadLogReader, WorkloadLogs } from './workload-logs.js';

/** How long, and for how many workloads, the lines of workloads removed from this agent stay readable. */
export interface EndedLogRetention {
  retentionMs: number;
  /** Past it, the workloads that ended first are forgotten first. */
  maxWorkloads: number;
}

/** One hour, 32 workloads: the replica that served (and failed) the last calls is still there to read. */
export const DEFAULT_ENDED_LOG_RETENTION: EndedLogRetention = { retentionMs: 3_600_000, maxWorkloads: 32 };

const EndedFile = z.record(z.string(), z.number());

/**
 * The lines of workloads removed for good (not replaced, not stopped with the agent) stay readable on the
 * logs route for a bounded time, then are forgotten from memory and disk. When each ended is kept in a file
 * beside the logs, so the window holds across an agent restart. Reads prune first: what the route serves is
 * never older than the window.
 */
export class EndedWorkloadLogs implements WorkloadLogReader {
  private readonly endedAt: Map<string, number>;
  private readonly retention: EndedLogRetention;

  constructor(
    private readonly logs: Pick<WorkloadLogs, 'read' | 'subscribe' | 'holds' | 'forget'>,
    private readonly file: string,
    retention: Partial<EndedLogRetention> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.retention = { ...DEFAULT_ENDED_LOG_RETENTION, ...retention };
    this.endedAt = new Map(Object.entries(load(file)));
    this.prune();
  }

  /** The workload was removed from this agent for good: its lines are kept for the retention window. */
  ended(workloadId: string): void {
    this.endedAt.set(workloadId, this.now());
    this.prune(true);
  }

  read(workloadId: string, query: LogQuery): LogLine[] {
    this.prune();
    return this.logs.read(workloadId, query);
  }

  holds(workloadId: string): boolean {
    this.prune();
    return this.logs.holds(workloadId);
  }

  subscribe(workloadId: string, listener: (line: LogLine) => void): () => void {
    return this.logs.subscribe(workloadId, listener);
  }

  /** Forgets the workloads past the window, then the earliest ended past the count; saves when changed. */
  private prune(changed = false): void {
    const oldest = this.now() - this.retention.retentionMs;
    const byEnd = [...this.endedAt].sort((a, b) => a[1] - b[1]);
    const over = byEnd.length - this.retention.maxWorkloads;
    byEnd.forEach(([id, at], i) => {
      if (at >= oldest && i >= over) return;
      this.logs.forget(id);
      this.endedAt.delete(id);
      changed = true;
    });
    if (changed) save(this.file, Object.fromEntries(this.endedAt));
  }
}

/** The recorded ends; an unreadable file starts over (those workloads' files then age out by the disk bound). */
function load(file: string): Record<string, number> {
  try {
    return EndedFile.parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch {
    return {};
  }
}

function save(file: string, value: Record<string, number>): void {
  const temp = `${file}.tmp`;
  try {
    writeFileSync(temp, JSON.stringify(value), { mode: 0o600 });
    renameSync(temp, file);
  } catch {
    // Lost only means longer retention after a restart, still within the disk bound: not worth a failure.
    rmSync(temp, { force: true });
  }
}
