import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdir, open, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gpuEnv } from './gpu-env.js';
import { pollHealthy, WorkloadNotFoundError } from './health.js';
import { type IsolationStatus, IsolationUnavailableError, probeIsolation } from './isolation.js';
import { followFile } from './output-follow.js';
import {
  isOurLiveProcess,
  type ProcessRecord,
  ProcessRecordStore,
  readProcStat,
  WORKLOAD_ENV,
} from './process-records.js';
import type {
  HealthProbe,
  OutputFollower,
  OutputSink,
  Workload,
  WorkloadSpec,
  WorkloadSupervisor,
} from './types.js';
import { UnixRelays } from './unix-relay.js';
import type { WorkloadDirs } from './workload-dirs.js';
import { type WorkloadIdentity, WorkloadUsers } from './workload-users.js';

export interface ProcessRuntimeOptions {
  /** Holds records/ and logs/: the agent's private data dir, never reachable by a workload. */
  dataDir: string;
  /** Volumes and runtime dirs, each owned by its workload's user, outside `dataDir`. */
  workloads: WorkloadDirs;
  agentId: string;
  /** Address the TCP relays to workloads' sockets bind to. Default 127.0.0.1. */
  bindHost?: string;
  users?: WorkloadUsers;
  /** Checked once; default: probed on first use (root, tools, a reachable workloads root). */
  isolation?: Promise<IsolationStatus>;
  /** RLIMIT_NPROC of each workload user (processes and threads): a fork bomb stays inside it. Default 4096. */
  maxProcesses?: number;
}

const LOG_TAIL_BYTES = 1024 * 1024;
const KILL_WAIT_MS = 5_000;

/**
 * Brings up loopback in the workload's own network namespace; in its own mount namespace (private
 * propagation, unshare's default) puts its temp dir over the shared temp dirs (tmpCovers) and a tmpfs of
 * its own on /dev/shm, so no other workload lists or reads its temp files; then drops to its user for good: no
 * supplementary groups, no capabilities (bounding set emptied too), no way back through setuid binaries.
 */
const LAUNCH_SCRIPT =
  'ip link set lo up && for d in $MERIDIAN_TMP_COVERS; do ' +
  '[ ! -d "$d" ] || mount --bind "$MERIDIAN_TMP" "$d" || exit 1; done && ' +
  '{ [ ! -d /dev/shm ] || mount -t tmpfs -o nosuid,nodev,mode=1777 meridian-shm /dev/shm; } && ' +
  'exec prlimit --nproc="$MERIDIAN_NPROC" -- setpriv --reuid="$MERIDIAN_UID" ' +
  '--regid="$MERIDIAN_GID" --clear-groups --no-new-privs --inh-caps=-all --bounding-set=-all -- "$@"';

/**
 * Workloads as child processes, for hosts without a container engine. Each runs detached in its own
 * process group (it outlives an agent restart), as its own system user, in a network namespace with only
 * loopback: it reaches no host port, no other workload and no metadata address, and it serves on a unix
 * socket in its runtime dir that the agent relays TCP to. Its temp dir is its own (0700, in its runtime dir,
 * emptied each start and removed with it), mounted over /tmp in a mount namespace of its own. Its environment is minimal (the agent's variables,
 * credentials included, are not inherited), and /proc/<pid>/environ, where its token is, is readable only
 * by its own uid. GPUs are steered with CUDA_VISIBLE_DEVICES (./gpu-env.ts), not fenced; no memory limits:
 * use docker for those.
 */
export class ProcessRuntime implements WorkloadSupervisor {
  private readonly records: ProcessRecordStore;
  private readonly relays: UnixRelays;
  private readonly users: WorkloadUsers;
  private isolation: Promise<IsolationStatus> | undefined;

  constructor(private readonly options: ProcessRuntimeOptions) {
    this.records = new ProcessRecordStore(join(options.dataDir, 'records'));
    this.relays = new UnixRelays(options.bindHost ?? '127.0.0.1');
    this.users = options.users ?? new WorkloadUsers();
    this.isolation = options.isolation;
  }

  /** Whether workloads can be isolated here; the agent logs it at start-up, every refused workload carries it. */
  isolationStatus(): Promise<IsolationStatus> {
    this.isolation ??= probeIsolation(this.options.workloads);
    return this.isolation;
  }

  async start(spec: WorkloadSpec): Promise<Workload> {
    const existing = await this.records.read(spec.workloadId);
    if (existing?.socket && (await isOurLiveProcess(existing))) return this.toWorkload(existing, true);
    if (existing) await this.endLegacy(existing);
    const isolation = await this.isolationStatus();
    if (!isolation.ok) throw new IsolationUnavailableError(isolation.reason);
    const [executable, ...rawArgs] = spec.command ?? [];
    if (!executable) throw new Error(`workload ${spec.workloadId}: the process runtime needs a command`);
    // Checked here: once launched, a missing command would only show as an exit in the log.
    if (!(await findExecutable(executable))) {
      throw new Error(`workload ${spec.workloadId}: command ${executable} not found (ENOENT)`);
    }

    const userKey = spec.volume ?? spec.workloadId;
    const dirs = this.options.workloads;
    const owner = await this.users.ensure(userKey, dirs.volumeDir(userKey));
    // A process of this user left from an earlier run (escaped from its group) must not be alive while root
    // empties the runtime dir or walks the volume: it could swap a folder in them for a link to /etc.
    await this.users.killProcesses(owner);
    const workdir = await dirs.ownVolume(userKey, owner);
    const runDir = await dirs.freshRunDir(spec.workloadId, owner);
    const socket = join(runDir, 'server.sock');
    const logFile = join(this.options.dataDir, 'logs', `${encodeURIComponent(spec.workloadId)}.log`);
    await mkdir(join(this.options.dataDir, 'logs'), { recursive: true, mode: 0o700 });
    const fill = (arg: string) =>
      arg.replaceAll('{socket}', socket).replaceAll('{workdir}', workdir).replaceAll('{rundir}', runDir);

    const pid = await this.launch(spec, owner, [executable, ...rawArgs.map(fill)], {
      workdir,
      runDir,
      logFile,
    });
    const stat = await readProcStat(pid);
    const record: ProcessRecord = {
      workloadId: spec.workloadId,
      kind: spec.kind,
      pid,
      startTicks: stat?.startTicks ?? null,
      socket,
      runDir,
      userKey,
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
    await this.relays.close(workloadId);
    if (await isOurLiveProcess(record)) {
      await this.signalAndWait(record, 'SIGTERM', graceSeconds * 1000);
      if (await isOurLiveProcess(record)) await this.signalAndWait(record, 'SIGKILL', KILL_WAIT_MS);
    }
    // The group signal misses what left the group (setsid, a double fork); by uid, nothing of it survives a
    // stop, and remove() never walks the user's files while a process of theirs could swap them for links.
    const owner = record.userKey === undefined ? undefined : await this.users.find(record.userKey);
    if (owner) await this.users.killProcesses(owner);
    await this.records.write({ ...record, pid: null, startTicks: null });
  }

  async remove(workloadId: string, options: { deleteVolume?: boolean } = {}): Promise<void> {
    const record = await this.records.read(workloadId);
    if (!record) return;
    await this.stop(workloadId, 0); // kills every process of the workload's user, or throws
    await rm(record.logFile, { force: true });
    await this.options.workloads.removeRunDir(workloadId);
    const key = record.userKey;
    // A workload without a volume of its own has nothing to keep; a notebook's user goes with its files.
    if (options.deleteVolume || (key !== undefined && key === workloadId)) {
      await rm(record.workdir, { recursive: true, force: true });
      if (key !== undefined) await this.users.remove(key);
    }
    await this.records.delete(workloadId);
  }

  async list(): Promise<Workload[]> {
    const records = await this.records.readAll();
    return Promise.all(records.map(async (r) => this.toWorkload(r, await isOurLiveProcess(r))));
  }

  /** When a client last sent the workload anything through its relay (ms); the agent's own reads aside. */
  lastTraffic(workloadId: string): number | undefined {
    return this.relays.lastTraffic(workloadId);
  }

  async logs(workloadId: string, tail: number): Promise<string> {
    const record = await this.records.read(workloadId);
    if (!record) throw new WorkloadNotFoundError(workloadId);
    const text = await readTail(record.logFile, LOG_TAIL_BYTES);
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    return tail > 0 ? lines.slice(-tail).join('\n') : '';
  }

  /** Follows the file the workload appends its output to (and keeps it bounded: see followFile). */
  async followOutput(workloadId: string, sink: OutputSink): Promise<OutputFollower | undefined> {
    const record = await this.records.read(workloadId);
    return record && followFile(record.logFile, sink.writer('output'));
  }

  waitForHealthy(workloadId: string, probe: HealthProbe): Promise<Workload> {
    return pollHealthy(workloadId, probe, async () => {
      const record = await this.records.read(workloadId);
      return record ? this.toWorkload(record, await isOurLiveProcess(record)) : undefined;
    });
  }

  /**
   * Keeps records whose isolated process still runs and is ours; drops the rest (their volumes stay). A
   * process an older agent started unisolated is ended: the desired state starts it again, isolated.
   */
  async adopt(): Promise<Workload[]> {
    const adopted: Workload[] = [];
    for (const record of await this.records.readAll()) {
      if (record.socket && (await isOurLiveProcess(record)))
        adopted.push(await this.toWorkload(record, true));
      else {
        await this.endLegacy(record);
        await this.records.delete(record.workloadId);
      }
    }
    return adopted;
  }

  async removeUndesired(desiredIds: ReadonlySet<string>): Promise<string[]> {
    const undesired = (await this.records.readAll()).filter((r) => !desiredIds.has(r.workloadId));
    for (const record of undesired) await this.remove(record.workloadId);
    return undesired.map((r) => r.workloadId);
  }

  /** Closes the relays (the agent is stopping); the workloads themselves keep running for adoption. */
  async close(): Promise<void> {
    await this.relays.closeAll();
  }

  private async launch(
    spec: WorkloadSpec,
    owner: WorkloadIdentity,
    argv: string[],
    at: { workdir: string; runDir: string; logFile: string },
  ): Promise<number> {
    const log = await open(at.logFile, 'a', 0o600);
    try {
      const tmp = this.options.workloads.tmpDir(spec.workloadId);
      const child = spawn('unshare', ['--net', '--mount', '--', 'sh', '-c', LAUNCH_SCRIPT, 'sh', ...argv], {
        cwd: at.workdir,
        // Built here, never from the agent's own: no credential or setting of the agent reaches the workload.
        env: {
          PATH: WORKLOAD_PATH,
          HOME: at.workdir,
          // Every name tools look for: Python's tempfile, Windows-minded libraries, POSIX shells.
          TMPDIR: tmp,
          TEMP: tmp,
          TMP: tmp,
          MERIDIAN_TMP: tmp,
          MERIDIAN_TMP_COVERS: tmpCovers(this.options.workloads.root).join(' '),
          LANG: 'C.UTF-8',
          ...spec.env,
          // Only its assigned GPUs (none for a CPU workload), whatever its own env asked for.
          ...gpuEnv(spec.gpus),
          [WORKLOAD_ENV]: spec.workloadId,
          MERIDIAN_AGENT_ID: this.options.agentId,
          MERIDIAN_UID: String(owner.uid),
          MERIDIAN_GID: String(owner.gid),
          MERIDIAN_NPROC: String(this.options.maxProcesses ?? 4096),
        },
        detached: true,
        stdio: ['ignore', log.fd, log.fd],
      });
      const pid = await spawned(child);
      child.unref();
      return pid;
    } finally {
      await log.close();
    }
  }

  /** Ends a recorded process that must not be adopted (unisolated, from an older agent), if it still runs. */
  private async endLegacy(record: ProcessRecord): Promise<void> {
    if (record.socket || !(await isOurLiveProcess(record))) return;
    await this.signalAndWait(record, 'SIGKILL', KILL_WAIT_MS);
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

  private async toWorkload(record: ProcessRecord, alive: boolean): Promise<Workload> {
    const live = alive && record.socket !== undefined;
    const port = live && record.socket ? await this.relays.open(record.workloadId, record.socket) : 0;
    return {
      workloadId: record.workloadId,
      kind: record.kind,
      state: live ? 'running' : 'stopped',
      endpoint: live ? { host: this.options.bindHost ?? '127.0.0.1', port } : null,
      labels: record.labels,
      ref: String(record.pid ?? ''),
    };
  }
}

const WORKLOAD_PATH = '/usr/local/bin:/usr/bin:/bin';
const SHARED_TEMP_DIRS = ['/tmp', '/var/tmp'];

/**
 * The host's shared temp dirs a workload gets its own temp dir mounted over: all but one holding the
 * workloads root, which the mount would hide from the workload itself (test roots made with mkdtemp). Code
 * writing to such a /tmp by name shares it with the host, though files another notebook's user made there
 * 0600 (as tempfile does) stay unreadable.
 */
export function tmpCovers(workloadsRoot: string): string[] {
  const root = resolve(workloadsRoot);
  return SHARED_TEMP_DIRS.filter((dir) => root !== dir && !root.startsWith(`${dir}/`));
}

/** Whether `command` (a path, or a name looked up on the workloads' PATH) is an executable file. */
async function findExecutable(command: string): Promise<boolean> {
  const candidates = command.includes('/')
    ? [command]
    : WORKLOAD_PATH.split(':').map((d) => join(d, command));
  for (const path of candidates) {
    if (
      await access(path, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return true;
  }
  return false;
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
