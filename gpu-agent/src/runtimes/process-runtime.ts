import { spawn } from 'node:child_process';
import { mkdir, open, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pollHealthy, WorkloadNotFoundError } from './health.js';
import {
  isOurLiveProcess,
  type ProcessRecord,
  ProcessRecordStore,
  readProcStat,
  WORKLOAD_ENV,
} from './process-records.js';
import type { HealthProbe, Workload, WorkloadSpec, WorkloadSupervisor } from './types.js';

export interface ProcessRuntimeOptions {
  /** Holds records/, logs/ and volumes/; keep it across agent restarts. */
  dataDir: string;
  agentId: string;
  /** Address workloads bind to (`{host}` in their command). Default 127.0.0.1. */
  bindHost?: string;
}

const LOG_TAIL_BYTES = 1024 * 1024;
const KILL_WAIT_MS = 5_000;

/**
 * Workloads as child processes, for hosts without a container engine. Each runs detached in its own
 * process group (it outlives an agent restart) with a minimal environment: the agent's own variables,
 * credentials included, are not inherited. No isolation, GPU pinning or memory limits: use docker for that.
 */
export class ProcessRuntime implements WorkloadSupervisor {
  private readonly records: ProcessRecordStore;
  private readonly bindHost: string;

  constructor(private readonly options: ProcessRuntimeOptions) {
    this.records = new ProcessRecordStore(join(options.dataDir, 'records'));
    this.bindHost = options.bindHost ?? '127.0.0.1';
  }

  async start(spec: WorkloadSpec): Promise<Workload> {
    const existing = await this.records.read(spec.workloadId);
    if (existing && (await isOurLiveProcess(existing))) return this.toWorkload(existing, true);
    const [executable, ...rawArgs] = spec.command ?? [];
    if (!executable) throw new Error(`workload ${spec.workloadId}: the process runtime needs a command`);

    const workdir = join(this.options.dataDir, 'volumes', encodeURIComponent(spec.volume ?? spec.workloadId));
    const logFile = join(this.options.dataDir, 'logs', `${encodeURIComponent(spec.workloadId)}.log`);
    await mkdir(workdir, { recursive: true });
    await mkdir(join(this.options.dataDir, 'logs'), { recursive: true });
    const port = await freePort(this.bindHost);
    const fill = (arg: string) =>
      arg
        .replaceAll('{host}', this.bindHost)
        .replaceAll('{port}', String(port))
        .replaceAll('{workdir}', workdir);

    const log = await open(logFile, 'a');
    let pid: number;
    try {
      const child = spawn(executable, rawArgs.map(fill), {
        cwd: workdir,
        env: {
          PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
          HOME: workdir,
          LANG: 'C.UTF-8',
          ...spec.env,
          [WORKLOAD_ENV]: spec.workloadId,
          MERIDIAN_AGENT_ID: this.options.agentId,
        },
        detached: true,
        stdio: ['ignore', log.fd, log.fd],
      });
      pid = await spawned(child);
      child.unref();
    } finally {
      await log.close();
    }
    const stat = await readProcStat(pid);
    const record: ProcessRecord = {
      workloadId: spec.workloadId,
      kind: spec.kind,
      pid,
      startTicks: stat?.startTicks ?? null,
      host: this.bindHost,
      port,
      workdir,
      logFile,
      labels: { ...spec.labels },
    };
    await this.records.write(record);
    return this.toWorkload(record, stat !== undefined);
  }

  async stop(workloadId: string, graceSeconds: number): Promise<void> {
    const record = await this.records.read(workloadId);
    if (!record) return;
    if (await isOurLiveProcess(record)) {
      await this.signalAndWait(record, 'SIGTERM', graceSeconds * 1000);
      if (await isOurLiveProcess(record)) await this.signalAndWait(record, 'SIGKILL', KILL_WAIT_MS);
    }
    await this.records.write({ ...record, pid: null, startTicks: null });
  }

  async remove(workloadId: string, options: { deleteVolume?: boolean } = {}): Promise<void> {
    const record = await this.records.read(workloadId);
    if (!record) return;
    await this.stop(workloadId, 0);
    await rm(record.logFile, { force: true });
    if (options.deleteVolume) await rm(record.workdir, { recursive: true, force: true });
    await this.records.delete(workloadId);
  }

  async list(): Promise<Workload[]> {
    const records = await this.records.readAll();
    return Promise.all(records.map(async (r) => this.toWorkload(r, await isOurLiveProcess(r))));
  }

  async logs(workloadId: string, tail: number): Promise<string> {
    const record = await this.records.read(workloadId);
    if (!record) throw new WorkloadNotFoundError(workloadId);
    const text = await readTail(record.logFile, LOG_TAIL_BYTES);
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    return tail > 0 ? lines.slice(-tail).join('\n') : '';
  }

  waitForHealthy(workloadId: string, probe: HealthProbe): Promise<Workload> {
    return pollHealthy(workloadId, probe, async () => {
      const record = await this.records.read(workloadId);
      return record ? this.toWorkload(record, await isOurLiveProcess(record)) : undefined;
    });
  }

  /** Keeps records whose process still runs and is ours; drops the rest (their volumes stay). */
  async adopt(): Promise<Workload[]> {
    const adopted: Workload[] = [];
    for (const record of await this.records.readAll()) {
      if (await isOurLiveProcess(record)) adopted.push(this.toWorkload(record, true));
      else await this.records.delete(record.workloadId);
    }
    return adopted;
  }

  async removeUndesired(desiredIds: ReadonlySet<string>): Promise<string[]> {
    const undesired = (await this.records.readAll()).filter((r) => !desiredIds.has(r.workloadId));
    for (const record of undesired) await this.remove(record.workloadId);
    return undesired.map((r) => r.workloadId);
  }

  /** Signals the whole process group (a server's workers too), then waits up to `waitMs` for it to go. */
  private async signalAndWait(record: ProcessRecord, signal: NodeJS.Signals, waitMs: number): Promise<void> {
    if (record.pid === null) return;
    try {
      process.kill(-record.pid, signal);
    } catch {
      return; // already gone
    }
    const deadline = Date.now() + waitMs;
    while (Date.now() < deadline && (await isOurLiveProcess(record))) await sleep(50);
  }

  private toWorkload(record: ProcessRecord, alive: boolean): Workload {
    return {
      workloadId: record.workloadId,
      kind: record.kind,
      state: alive ? 'running' : 'stopped',
      endpoint: alive ? { host: record.host, port: record.port } : null,
      labels: record.labels,
      ref: String(record.pid ?? ''),
    };
  }
}

/** Resolves with the pid once the child exists, or rejects (e.g. ENOENT for a missing executable). */
function spawned(child: ReturnType<typeof spawn>): Promise<number> {
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('spawn', () => {
      child.off('error', reject);
      if (child.pid === undefined) reject(new Error('spawned child has no pid'));
      else resolve(child.pid);
    });
  });
}

/**
 * A port free right now on `host`. Another process may take it before the workload binds; the workload
 * then fails its health wait and the caller retries, which is rarer than it sounds with ephemeral ports.
 */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

async function readTail(path: string, maxBytes: number): Promise<string> {
  const file = await open(path, 'r').catch(() => undefined);
  if (!file) return '';
  try {
    const { size } = await file.stat();
    const length = Math.min(size, maxBytes);
    const buffer = Buffer.alloc(length);
    await file.read(buffer, 0, length, size - length);
    return buffer.toString('utf8');
  } finally {
    await file.close();
  }
}
