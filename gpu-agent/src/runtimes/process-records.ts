import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';

/** Environment variable every process the runtime starts carries; /proc/<pid>/environ proves it is ours. */
export const WORKLOAD_ENV = 'MERIDIAN_WORKLOAD_ID';

/** What the process runtime persists per workload, so a restarted agent can adopt or clean it up. */
export const ProcessRecord = z.object({
  workloadId: z.string().min(1),
  kind: z.enum(['notebook', 'model-server']),
  /** null once stopped. */
  pid: z.number().int().positive().nullable(),
  /** Kernel start time of `pid` (clock ticks since boot): a recycled pid has a different one. */
  startTicks: z.string().nullable(),
  /**
   * The unix socket the isolated workload serves on (the agent relays TCP to it). Absent in records of agents
   * before isolation, whose processes ran as the agent itself on a TCP port: those are ended, not adopted.
   */
  socket: z.string().optional(),
  /** The workload's runtime dir (its socket, temp files), emptied on each start and removed with it. */
  runDir: z.string().optional(),
  /** Whose user and volume this is: the notebook's volume name, or the workload id. */
  userKey: z.string().optional(),
  workdir: z.string(),
  logFile: z.string(),
  labels: z.record(z.string(), z.string()),
});
export type ProcessRecord = z.infer<typeof ProcessRecord>;

/** Record files are named by workload id; ids are not trusted to be path-safe. */
function fileName(workloadId: string): string {
  return `${encodeURIComponent(workloadId)}.json`;
}

/** JSON records in one directory, written atomically (temp file + rename). */
export class ProcessRecordStore {
  constructor(private readonly dir: string) {}

  async read(workloadId: string): Promise<ProcessRecord | undefined> {
    try {
      return ProcessRecord.parse(JSON.parse(await readFile(join(this.dir, fileName(workloadId)), 'utf8')));
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  /** Every readable record; a corrupt or foreign file is skipped, not fatal to adoption. */
  async readAll(): Promise<ProcessRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (error) {
      if (isMissing(error)) return [];
      throw error;
    }
    const records: ProcessRecord[] = [];
    for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
      const text = await readFile(join(this.dir, name), 'utf8').catch(() => '');
      const parsed = ProcessRecord.safeParse(safeJson(text));
      if (parsed.success) records.push(parsed.data);
    }
    return records;
  }

  async write(record: ProcessRecord): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const path = join(this.dir, fileName(record.workloadId));
    const temp = `${path}.${process.pid}.tmp`;
    await writeFile(temp, JSON.stringify(record, null, 2));
    await rename(temp, path);
  }

  async delete(workloadId: string): Promise<void> {
    await rm(join(this.dir, fileName(workloadId)), { force: true });
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isMissing(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === 'ENOENT';
}

/** State and start time of a process from /proc/<pid>/stat, or undefined when there is no such pid. */
export async function readProcStat(pid: number): Promise<{ state: string; startTicks: string } | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces and parens; the fields after its last ')' do not.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const startTicks = fields[19]; // field 22 of proc(5)
  return state && startTicks ? { state, startTicks } : undefined;
}

/**
 * Whether `record.pid` is still the process this runtime started: alive (not a zombie), the same start
 * time, and carrying the workload id in its environment. A pid reused by anything else fails all three.
 *
 * The environment is read empty while the process is inside execve (the launch chain execs four times
 * before the server runs), and unreadable where the agent lacks CAP_SYS_PTRACE: neither means the process
 * is gone, so those reads are retried and then left to the pid and start time, which already identify it.
 */
export async function isOurLiveProcess(record: ProcessRecord): Promise<boolean> {
  if (record.pid === null) return false;
  const stat = await readProcStat(record.pid);
  if (!stat || stat.state === 'Z' || stat.state === 'X' || stat.startTicks !== record.startTicks) {
    return false;
  }
  for (let attempt = 0; attempt < ENVIRON_ATTEMPTS; attempt++) {
    const environ = await readFile(`/proc/${record.pid}/environ`, 'utf8').catch(() => '');
    if (environ !== '') return environ.split('\0').includes(`${WORKLOAD_ENV}=${record.workloadId}`);
    await sleep(ENVIRON_RETRY_MS);
  }
  return true;
}

const ENVIRON_ATTEMPTS = 3;
const ENVIRON_RETRY_MS = 5;
