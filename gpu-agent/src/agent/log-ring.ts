/** One line of a workload's log, as the agent serves it. */
export interface LogLine {
  /** Increases by one per line of this workload, across agent restarts (restored from its file). */
  seq: number;
  /** When the agent read the line, unix milliseconds. */
  time: number;
  /** `stdout`/`stderr` of a container, `output` of a process (both in one file), `agent` for the agent's own. */
  stream: 'stdout' | 'stderr' | 'output' | 'agent';
  line: string;
}

/** Bytes a line is counted as: its text, plus what an entry costs beside it (object, numbers, stream). */
export const LINE_OVERHEAD_BYTES = 64;

export const lineBytes = (l: LogLine) => l.line.length * 2 + LINE_OVERHEAD_BYTES;

/**
 * A circular buffer of the last lines of one workload, bounded by both a line count and a byte count
 * (UTF-16 text as V8 may hold it, plus a fixed overhead per entry): whichever is reached first evicts the
 * oldest lines. Appending is O(1) amortised; nothing grows with what a workload prints.
 */
export class LogRing {
  private readonly slots: (LogLine | undefined)[];
  private head = 0;
  private count = 0;
  private bytesHeld = 0;

  constructor(
    private readonly maxLines: number,
    private readonly maxBytes: number,
  ) {
    this.slots = new Array<LogLine | undefined>(maxLines);
  }

  get size(): number {
    return this.count;
  }

  /** Bytes the held lines are counted as; never above `maxBytes` (a larger single line is cut by the writer). */
  get bytes(): number {
    return this.bytesHeld;
  }

  push(line: LogLine): void {
    const cost = lineBytes(line);
    while (this.count > 0 && (this.count >= this.maxLines || this.bytesHeld + cost > this.maxBytes))
      this.dropOldest();
    this.slots[(this.head + this.count) % this.maxLines] = line;
    this.count += 1;
    this.bytesHeld += cost;
  }

  /** The held lines, oldest first, that pass `keep`. */
  filter(keep: (line: LogLine) => boolean): LogLine[] {
    const out: LogLine[] = [];
    for (let i = 0; i < this.count; i++) {
      const line = this.slots[(this.head + i) % this.maxLines];
      if (line && keep(line)) out.push(line);
    }
    return out;
  }

  last(): LogLine | undefined {
    return this.count === 0 ? undefined : this.slots[(this.head + this.count - 1) % this.maxLines];
  }

  private dropOldest(): void {
    const oldest = this.slots[this.head];
    this.slots[this.head] = undefined;
    this.head = (this.head + 1) % this.maxLines;
    this.count -= 1;
    if (oldest) this.bytesHeld -= lineBytes(oldest);
  }
}
