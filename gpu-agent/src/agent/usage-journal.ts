import { type FileHandle, mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type PredictionUsageReport, UsageRecord } from '@meridian/protocol';
import { z } from 'zod';
import { readJsonFile, writeJsonFile } from './json-file.js';
import type { Logger } from './logger.js';

/** One infer call answered 200, as the data plane hands it over before writing the answer. */
export type ServedCall = {
  orgId: string;
  keyId: string | null;
  userId: string | null;
  deploymentId: string;
  bytesIn: number;
  bytesOut: number;
  /** The caller's Idempotency-Key, when it sent one: the call is reported as a record of its own. */
  idempotencyKey?: string | undefined;
};

/** What the data plane needs of the journal. */
export interface CallRecorder {
  /** Resolves once the call is in the journal file (a returned write: it survives a kill -9). */
  record(call: ServedCall): Promise<void>;
}

export type JournalOptions = {
  /** fdatasync after each grouped write: survives a power cut too, at the cost measured in bench/usage-journal.ts. */
  fsync?: boolean;
  now?: () => number;
  log: Logger;
};

/** The UTC minute a call counts in, as the edge's usage store writes it (`2026-11-23T14:05:00Z`). */
export function minuteOf(ms: number): string {
  return new Date(Math.floor(ms / 60_000) * 60_000).toISOString().replace('.000Z', 'Z');
}

const State = z.object({ lastGeneration: z.number().int().nonnegative() });
const Sealed = z.object({
  seq: z.number().int().positive(),
  parts: z.array(z.object({ part: z.number().int().nonnegative(), records: z.array(UsageRecord) })),
});
type Sealed = z.infer<typeof Sealed>;

const RECORDS_PER_PART = 5000;
const JOURNAL = /^journal-(\d+)\.jsonl$/;
const SEALED = /^sealed-(\d+)\.json$/;

type Waiter = { resolve: () => void; reject: (err: unknown) => void };

/**
 * The agent's durable record of the prediction calls it answered, in `<dir>`:
 *
 * - `journal-<G>.jsonl`: one line per call, appended before the call's 200 is written. Calls completed in the
 *   same event-loop turn share one write (group commit); while a write is in flight the next calls gather for
 *   the one after it, so there is at most one write in flight and each serves every call that waited.
 * - `seal()` rotates: appends go to generation G+1 (its number stored in `state.json` first, so generations
 *   only rise, across restarts too), and journal G is aggregated per (org, key, user, deployment, minute) into
 *   `sealed-<G>.json` (written atomically), then deleted. G is the report's seq: a crash after sealing and
 *   before the delete finds both on restart and drops the journal, so nothing is counted twice; a journal
 *   without its sealed file (the process died before sealing) is sealed then, so nothing is lost.
 * - A sealed part leaves only when the control plane has acknowledged it (`acknowledge`).
 */
export class UsageJournal implements CallRecorder {
  private file!: FileHandle;
  private generation = 0;
  private callsInGeneration = 0;
  private pending: string[] = [];
  private waiters: Waiter[] = [];
  private writing: Promise<void> | undefined;
  private scheduled = false;
  private torn = false;
  private readonly now: () => number;
  /** Grouped writes made and calls they carried (group commit: writes ≤ calls), for tests and benchmarks. */
  readonly stats = { writes: 0, calls: 0 };

  private constructor(
    private readonly dir: string,
    private readonly options: JournalOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Opens the journal in `dir`, sealing what a previous process left unsealed. */
  static async open(dir: string, options: JournalOptions): Promise<UsageJournal> {
    const journal = new UsageJournal(dir, options);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const state = (await readJsonFile(join(dir, 'state.json'), State)) ?? { lastGeneration: 0 };
    const names = await readdir(dir);
    const generations = (re: RegExp) => names.flatMap((n) => re.exec(n)?.[1] ?? []).map(Number);
    const journals = generations(JOURNAL).sort((a, b) => a - b);
    const sealed = new Set(generations(SEALED));
    for (const g of journals) {
      if (sealed.has(g)) await rm(journal.journalPath(g), { force: true });
      else await journal.sealGeneration(g);
    }
    journal.generation = Math.max(state.lastGeneration, ...journals, ...sealed);
    await journal.startGeneration(journal.generation + 1);
    return journal;
  }

  record(call: ServedCall): Promise<void> {
    const line = JSON.stringify({ ...call, minute: minuteOf(this.now()) });
    return new Promise<void>((resolve, reject) => {
      this.pending.push(line);
      this.waiters.push({ resolve, reject });
      this.schedule();
    });
  }

  /**
   * Starts a new generation and seals the one before, if it holds any call. Appends made before this call
   * are in the sealed report; appends made after go to the new generation.
   */
  async seal(): Promise<void> {
    await this.drain();
    if (this.callsInGeneration === 0) return;
    const old = this.generation;
    const oldFile = this.file;
    // Calls recorded while the files change wait in `pending` (no write is scheduled) for the new file.
    this.scheduled = true;
    try {
      await this.startGeneration(old + 1);
    } finally {
      this.scheduled = false;
      if (this.pending.length > 0) this.schedule();
    }
    await oldFile.close();
    await this.sealGeneration(old);
  }

  /** Every sealed part not yet acknowledged, oldest first. */
  async unacknowledged(): Promise<PredictionUsageReport[]> {
    const seqs = (await readdir(this.dir)).flatMap((n) => SEALED.exec(n)?.[1] ?? []).map(Number);
    const reports: PredictionUsageReport[] = [];
    for (const seq of seqs.sort((a, b) => a - b)) {
      const sealed = await readJsonFile(this.sealedPath(seq), Sealed);
      for (const p of sealed?.parts ?? []) reports.push({ seq, part: p.part, records: p.records });
    }
    return reports;
  }

  /** Forgets a part the control plane stored (or refused for good); the file goes with its last part. */
  async acknowledge(seq: number, part: number): Promise<void> {
    const path = this.sealedPath(seq);
    const sealed = await readJsonFile(path, Sealed);
    if (!sealed) return;
    const parts = sealed.parts.filter((p) => p.part !== part);
    if (parts.length === 0) await rm(path, { force: true });
    else await writeJsonFile(path, { ...sealed, parts });
  }

  /** Waits for every recorded call to be written, then closes the file (unsealed lines are sealed next start). */
  async close(): Promise<void> {
    await this.drain();
    await this.file.close();
  }

  private schedule(): void {
    if (this.scheduled || this.writing) return;
    this.scheduled = true;
    // After the I/O callbacks of this turn: every call completed in it joins the same write.
    setImmediate(() => {
      this.scheduled = false;
      this.writing = this.writeBatch().finally(() => {
        this.writing = undefined;
        if (this.pending.length > 0) this.schedule();
      });
    });
  }

  private async writeBatch(): Promise<void> {
    const lines = this.pending;
    const waiters = this.waiters;
    this.pending = [];
    this.waiters = [];
    // After a failed write the file may end in half a line: a newline keeps it from swallowing the next one.
    const text = `${this.torn ? '\n' : ''}${lines.join('\n')}\n`;
    try {
      await writeAll(this.file, Buffer.from(text));
      if (this.options.fsync) await this.file.datasync();
      this.torn = false;
      this.callsInGeneration += lines.length;
      this.stats.writes += 1;
      this.stats.calls += lines.length;
      for (const w of waiters) w.resolve();
    } catch (err) {
      this.torn = true;
      this.options.log.error('usage journal write failed', { error: String(err), calls: lines.length });
      for (const w of waiters) w.reject(err);
    }
  }

  /** Resolves once nothing is waiting to be written. */
  private async drain(): Promise<void> {
    while (this.writing || this.scheduled || this.pending.length > 0) {
      if (this.writing) await this.writing;
      else await new Promise((r) => setImmediate(r));
    }
  }

  private async startGeneration(generation: number): Promise<void> {
    // The number is stored before the file exists, so it is never handed out twice.
    await writeJsonFile(join(this.dir, 'state.json'), { lastGeneration: generation });
    this.file = await open(this.journalPath(generation), 'a', 0o600);
    this.generation = generation;
    this.callsInGeneration = 0;
    this.torn = false;
  }

  private async sealGeneration(generation: number): Promise<void> {
    const path = this.journalPath(generation);
    const text = await readFile(path, 'utf8');
    const { records, skipped } = aggregate(text);
    if (skipped > 0)
      this.options.log.warn('usage journal lines skipped (torn by a crash mid-write)', {
        generation,
        skipped,
      });
    if (records.length > 0) {
      const parts: Sealed['parts'] = [];
      for (let i = 0; i < records.length; i += RECORDS_PER_PART)
        parts.push({ part: parts.length, records: records.slice(i, i + RECORDS_PER_PART) });
      await writeJsonFile(this.sealedPath(generation), { seq: generation, parts } satisfies Sealed);
    }
    await rm(path, { force: true });
  }

  private journalPath(generation: number): string {
    return join(this.dir, `journal-${generation}.jsonl`);
  }

  private sealedPath(generation: number): string {
    return join(this.dir, `sealed-${generation}.json`);
  }
}

const Line = z.object({
  orgId: z.string(),
  keyId: z.string().nullable(),
  userId: z.string().nullable(),
  deploymentId: z.string(),
  minute: z.string(),
  bytesIn: z.number().int().nonnegative(),
  bytesOut: z.number().int().nonnegative(),
  idempotencyKey: z.string().optional(),
});

/**
 * Journal lines summed per (org, key, user, deployment, minute), in a fixed order; unreadable lines skipped.
 * A line with an Idempotency-Key stays a record of its own (the control plane bills each key once per org),
 * and a key this journal already holds (the caller retried and reached this agent again) is counted once.
 */
export function aggregate(text: string): { records: UsageRecord[]; skipped: number } {
  const sums = new Map<string, UsageRecord>();
  let skipped = 0;
  for (const raw of text.split('\n')) {
    if (raw === '') continue;
    let parsed: z.infer<typeof Line>;
    try {
      parsed = Line.parse(JSON.parse(raw));
    } catch {
      skipped += 1;
      continue;
    }
    const key =
      parsed.idempotencyKey === undefined
        ? JSON.stringify([parsed.orgId, parsed.keyId, parsed.userId, parsed.deploymentId, parsed.minute])
        : JSON.stringify([parsed.orgId, parsed.idempotencyKey]);
    const sum = sums.get(key);
    if (sum && parsed.idempotencyKey !== undefined) continue;
    if (sum) {
      sum.calls += 1;
      sum.bytesIn += parsed.bytesIn;
      sum.bytesOut += parsed.bytesOut;
    } else sums.set(key, { ...parsed, calls: 1 });
  }
  const records = [...sums.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);
  return { records, skipped };
}

/** Writes all of `buffer` (a single write may be short). */
async function writeAll(file: FileHandle, buffer: Buffer): Promise<void> {
  let offset = 0;
  while (offset < buffer.byteLength) {
    const { bytesWritten } = await file.write(buffer, offset, buffer.byteLength - offset);
    offset += bytesWritten;
  }
}
