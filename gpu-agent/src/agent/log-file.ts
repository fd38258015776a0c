import { closeSync, fstatSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import type { LogLine } from './log-ring.js';

/**
 * A workload's lines on disk: NDJSON (`{"seq","time","stream","line"}`) in `<base>.log`, which moves to
 * `<base>.log.1` (replacing it) once it would pass `maxFileBytes`: at most two files, 2 × maxFileBytes.
 * Files are 0600 in the agent's private dir. Writes are batched (one write per flush, every 100 ms or
 * 256 KiB); what waits for a flush is bounded too: past `maxPendingBytes` lines reach memory, not disk.
 */
export class RotatingLogFile {
  private pending: string[] = [];
  private pendingBytes = 0;
  private fd: number | undefined;
  private fileBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Lines that did not reach the disk (a flood past the pending bound, a write error). */
  dropped = 0;

  constructor(
    private readonly base: string,
    private readonly maxFileBytes: number,
    private readonly maxPendingBytes = 1024 * 1024,
  ) {}

  /** The last lines on disk (current file, then the rotated one when the current holds too few), oldest first. */
  restore(maxLines: number): LogLine[] {
    const lines: LogLine[] = [];
    for (const path of [`${this.base}.log`, `${this.base}.log.1`]) {
      if (lines.length >= maxLines) break;
      const text = readOrEmpty(path);
      const parsed = text.split('\n').flatMap((raw) => parseLine(raw));
      lines.unshift(...parsed.slice(-(maxLines - lines.length)));
    }
    return lines;
  }

  append(line: LogLine): void {
    const text = `${JSON.stringify(line)}\n`;
    if (this.pendingBytes + text.length > this.maxPendingBytes) {
      this.dropped += 1;
      return;
    }
    this.pending.push(text);
    this.pendingBytes += text.length;
    if (this.pendingBytes >= 256 * 1024) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), 100).unref();
  }

  /** Writes what is pending, rotating first when it would pass the file bound. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const chunk = Buffer.from(this.pending.join(''));
    const lines = this.pending.length;
    this.pending = [];
    this.pendingBytes = 0;
    try {
      this.open();
      if (this.fileBytes > 0 && this.fileBytes + chunk.byteLength > this.maxFileBytes) this.rotate();
      const fd = this.open();
      writeSync(fd, chunk);
      this.fileBytes += chunk.byteLength;
    } catch {
      // A full or failing disk loses these lines on disk only; memory still holds them.
      this.dropped += lines;
      this.closeFd();
    }
  }

  /** Flushes and closes (the agent is stopping, or the workload's lines are evicted from memory). */
  close(): void {
    this.flush();
    this.closeFd();
  }

  /** Closes and deletes both files. */
  remove(): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.close();
    rmSync(`${this.base}.log`, { force: true });
    rmSync(`${this.base}.log.1`, { force: true });
  }

  private open(): number {
    if (this.fd === undefined) {
      this.fd = openSync(`${this.base}.log`, 'a', 0o600);
      this.fileBytes = fstatSync(this.fd).size;
    }
    return this.fd;
  }

  private rotate(): void {
    this.closeFd();
    renameSync(`${this.base}.log`, `${this.base}.log.1`);
  }

  private closeFd(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.fileBytes = 0;
  }
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function parseLine(raw: string): LogLine[] {
  if (raw === '') return [];
  try {
    const v = JSON.parse(raw) as Partial<LogLine>;
    if (typeof v.seq !== 'number' || typeof v.time !== 'number' || typeof v.line !== 'string') return [];
    const stream =
      v.stream === 'stdout' || v.stream === 'stderr' || v.stream === 'agent' ? v.stream : 'output';
    return [{ seq: v.seq, time: v.time, stream, line: v.line }];
  } catch {
    // A line cut by a crash mid-write: skipped.
    return [];
  }
}
