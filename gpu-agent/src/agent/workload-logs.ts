import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { RotatingLogFile } from './log-file.js';
import { type LogLine, LogRing } from './log-ring.js';
import type { Logger } from './logger.js';

export type { LogLine } from './log-ring.js';

/** The bounds of workload logs; each is a hard limit, whatever a workload prints. */
export interface WorkloadLogLimits {
  /** Lines held in memory per workload. */
  maxLines: number;
  /** Bytes held in memory per workload (see LogRing for how a line is counted). */
  maxBytes: number;
  /** A longer line is cut into pieces of this many characters. */
  maxLineChars: number;
  /** Each of a workload's two files on disk. */
  maxFileBytes: number;
  /** Workloads whose lines are held in memory at once; the least recently written is let go (its files stay). */
  maxWorkloadsInMemory: number;
  /** Workloads whose files are kept on disk; the least recently written are deleted past it. */
  maxWorkloadsOnDisk: number;
}

/**
 * Default bounds: 1 MiB and 5,000 lines in memory per workload, at most 64 workloads held (64 MiB at
 * worst, a few KiB for a quiet one); 2 × 2 MiB of files per workload, for at most 256 workloads.
 */
export const DEFAULT_LOG_LIMITS: WorkloadLogLimits = {
  maxLines: 5_000,
  maxBytes: 1024 * 1024,
  maxLineChars: 8 * 1024,
  maxFileBytes: 2 * 1024 * 1024,
  maxWorkloadsInMemory: 64,
  maxWorkloadsOnDisk: 256,
};

/** Query parameters of signed URLs (S3's X-Amz-*, the filesystem store's signature) and tokens. */
const SIGNED_QUERY = /([?&](?:X-Amz-[A-Za-z-]+|signature|sig|token|expires|credential)=)[^&\s"']+/gi;

/** Which lines a read wants: those after `sinceSeq` and at or after `sinceMs`, then the last `tail`. */
export interface LogQuery {
  tail?: number | undefined;
  sinceSeq?: number | undefined;
  sinceMs?: number | undefined;
}

/** What reads a workload's lines: the data plane's logs route. */
export interface WorkloadLogReader {
  read(workloadId: string, query: LogQuery): LogLine[];
  /** Whether any line of the workload is held here (none: it never wrote one, or it was forgotten). */
  holds(workloadId: string): boolean;
  /** Calls `listener` with each new line of the workload until the returned function is called. */
  subscribe(workloadId: string, listener: (line: LogLine) => void): () => void;
}

/** A stream of a workload's output, cut into lines as it arrives (a chunk may end mid-line or mid-character). */
export interface LogWriter {
  write(chunk: Uint8Array | string): void;
  /** Emits a last line without its newline, if any. */
  end(): void;
}

interface Entry {
  ring: LogRing;
  file: RotatingLogFile;
  seq: number;
  lastWrite: number;
  secrets: string[];
  listeners: Set<(line: LogLine) => void>;
}

/**
 * Recent log lines of every workload on this agent: the onnx runtime's own lines (load, failed requests with
 * their request ids) and containers' and processes' output. Bounded in memory and on disk (WorkloadLogLimits),
 * with a sequence number and time per line; lines survive an agent restart through the files under `dir`
 * (the agent's private data dir, 0700; files 0600). Secrets a workload was given (a notebook's token) are
 * replaced before a line is stored anywhere.
 */
export class WorkloadLogs implements WorkloadLogReader {
  private readonly entries = new Map<string, Entry>();
  private readonly limits: WorkloadLogLimits;

  constructor(
    private readonly dir: string,
    limits: Partial<WorkloadLogLimits> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.limits = { ...DEFAULT_LOG_LIMITS, ...limits };
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  /** Strings never to show in the workload's lines (replaced by `[redacted]`). */
  redact(workloadId: string, secrets: string[]): void {
    this.entry(workloadId).secrets = secrets.filter((s) => s.length >= 8);
  }

  /** Appends one line (the agent's own, or an already split line of output). */
  append(workloadId: string, stream: LogLine['stream'], text: string): void {
    const entry = this.entry(workloadId);
    for (let at = 0; at === 0 || at < text.length; at += this.limits.maxLineChars) {
      let line = text.slice(at, at + this.limits.maxLineChars);
      for (const secret of entry.secrets) line = line.replaceAll(secret, '[redacted]');
      // The agent's own lines may quote an error that quotes a URL: a signed one's credentials never show.
      if (stream === 'agent') line = line.replace(SIGNED_QUERY, '$1[redacted]');
      entry.seq += 1;
      const logged: LogLine = { seq: entry.seq, time: this.now(), stream, line };
      entry.ring.push(logged);
      entry.file.append(logged);
      entry.lastWrite = logged.time;
      for (const listener of entry.listeners) listener(logged);
    }
  }

  /** A writer that splits a byte stream of the workload into lines; a partial line waits (bounded). */
  writer(workloadId: string, stream: LogLine['stream']): LogWriter {
    const decoder = new StringDecoder('utf8');
    let partial = '';
    const max = this.limits.maxLineChars;
    const take = (text: string) => {
      const parts = (partial + text).split('\n');
      partial = parts.pop() ?? '';
      for (const part of parts)
        this.append(workloadId, stream, part.endsWith('\r') ? part.slice(0, -1) : part);
      // A line without end is cut rather than held without bound.
      while (partial.length >= max) {
        this.append(workloadId, stream, partial.slice(0, max));
        partial = partial.slice(max);
      }
    };
    return {
      write: (chunk) => take(typeof chunk === 'string' ? chunk : decoder.write(Buffer.from(chunk))),
      end: () => {
        take(decoder.end());
        if (partial !== '') this.append(workloadId, stream, partial);
        partial = '';
      },
    };
  }

  read(workloadId: string, query: LogQuery): LogLine[] {
    const entry =
      this.entries.get(workloadId) ?? (this.onDisk(workloadId) ? this.entry(workloadId) : undefined);
    if (!entry) return [];
    const { sinceSeq, sinceMs } = query;
    const lines = entry.ring.filter(
      (l) => (sinceSeq === undefined || l.seq > sinceSeq) && (sinceMs === undefined || l.time >= sinceMs),
    );
    return query.tail === undefined ? lines : lines.slice(Math.max(0, lines.length - query.tail));
  }

  holds(workloadId: string): boolean {
    return this.entries.has(workloadId) || this.onDisk(workloadId);
  }

  subscribe(workloadId: string, listener: (line: LogLine) => void): () => void {
    const entry = this.entry(workloadId);
    entry.listeners.add(listener);
    return () => entry.listeners.delete(listener);
  }

  /** Bytes held in memory for a workload (see LogRing); 0 when none are. */
  bytesHeld(workloadId: string): number {
    return this.entries.get(workloadId)?.ring.bytes ?? 0;
  }

  /** Drops a workload's lines from memory and disk (it was removed for good). */
  forget(workloadId: string): void {
    const entry = this.entries.get(workloadId);
    this.entries.delete(workloadId);
    if (entry) entry.file.remove();
    else new RotatingLogFile(this.base(workloadId), this.limits.maxFileBytes).remove();
  }

  /** Writes what waits for the disk (the agent is stopping). */
  close(): void {
    for (const entry of this.entries.values()) entry.file.close();
  }

  private base(workloadId: string): string {
    return join(this.dir, encodeURIComponent(workloadId));
  }

  private onDisk(workloadId: string): boolean {
    try {
      return statSync(`${this.base(workloadId)}.log`).isFile();
    } catch {
      return false;
    }
  }

  private entry(workloadId: string): Entry {
    const found = this.entries.get(workloadId);
    if (found) return found;
    this.makeRoom();
    const file = new RotatingLogFile(this.base(workloadId), this.limits.maxFileBytes);
    const ring = new LogRing(this.limits.maxLines, this.limits.maxBytes);
    for (const line of file.restore(this.limits.maxLines)) ring.push(line);
    const entry: Entry = {
      ring,
      file,
      seq: ring.last()?.seq ?? 0,
      lastWrite: ring.last()?.time ?? this.now(),
      secrets: [],
      listeners: new Set(),
    };
    this.entries.set(workloadId, entry);
    return entry;
  }

  /** Lets the least recently written workload go from memory, and old files from disk, past the bounds. */
  private makeRoom(): void {
    if (this.entries.size >= this.limits.maxWorkloadsInMemory) {
      let oldest: [string, Entry] | undefined;
      for (const pair of this.entries) {
        if (pair[1].listeners.size > 0) continue;
        if (!oldest || pair[1].lastWrite < oldest[1].lastWrite) oldest = pair;
      }
      if (oldest) {
        oldest[1].file.close();
        this.entries.delete(oldest[0]);
      }
    }
    const files = readdirSync(this.dir).filter((f) => f.endsWith('.log'));
    if (files.length < this.limits.maxWorkloadsOnDisk) return;
    const byAge = files
      .map((f) => ({ f, at: statSync(join(this.dir, f)).mtimeMs }))
      .sort((a, b) => a.at - b.at)
      .slice(0, files.length - this.limits.maxWorkloadsOnDisk + 1);
    for (const { f } of byAge) {
      if (this.entries.has(decodeURIComponent(f.slice(0, -4)))) continue;
      rmSync(join(this.dir, f), { force: true });
      rmSync(join(this.dir, `${f}.1`), { force: true });
    }
  }
}

/**
 * The data plane's logger, which also writes each failed inference request (onnxruntime's errors, bad inputs
 * it could not run) into the log of the workload serving that model version, with its request id and status.
 */
export function withWorkloadFailures(
  log: Logger,
  logs: WorkloadLogs,
  workloadOf: (model: string, version: string) => string | undefined,
): Logger {
  return {
    ...log,
    error(msg, fields = {}) {
      log.error(msg, fields);
      const { model, version, requestId, status, error } = fields;
      if (typeof model !== 'string' || typeof version !== 'string') return;
      const id = workloadOf(model, version);
      if (id)
        logs.append(id, 'agent', `request ${String(requestId)} failed (${String(status)}): ${String(error)}`);
    },
  };
}
