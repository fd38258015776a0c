import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { killUidProcesses } from './uid-processes.js';

const run = promisify(execFile);

/** The unprivileged host user a workload runs as (its files, its processes, its container's uid). */
export interface WorkloadIdentity {
  user: string;
  uid: number;
  gid: number;
}

export interface WorkloadUsersOptions {
  /** System uids (and gids) handed to workloads; nothing else on the host should use this range. */
  uidMin?: number;
  uidMax?: number;
}

/** Default range: far above login users (1000+) and Debian's system users (100-999). */
export const WORKLOAD_UID_MIN = 200_000;
export const WORKLOAD_UID_MAX = 299_999;
const USERADD_EXISTS = 9;

/**
 * One system user per workload key (a notebook's volume, or the workload id), created with `useradd
 * --system` in a uid range of its own and kept while the key's files are, so a notebook's files keep their
 * owner across starts. Needs root; callers check `probeIsolation` first.
 */
export class WorkloadUsers {
  private readonly uidMin: number;
  private readonly uidMax: number;
  /** useradd locks /etc/passwd itself; serialising here avoids its lock-busy failures under parallel starts. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: WorkloadUsersOptions = {}) {
    this.uidMin = options.uidMin ?? WORKLOAD_UID_MIN;
    this.uidMax = options.uidMax ?? WORKLOAD_UID_MAX;
  }

  /** `mrd-` and 16 hex digits of the key's hash: within useradd's 32 characters, whatever the key. */
  static nameOf(key: string): string {
    return `mrd-${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
  }

  /** The key's user, created on first use. */
  ensure(key: string, home: string): Promise<WorkloadIdentity> {
    return this.serialize(async () => {
      const user = WorkloadUsers.nameOf(key);
      const existing = await lookup(user);
      if (existing) return existing;
      const range = [
        ['SYS_UID_MIN', this.uidMin],
        ['SYS_UID_MAX', this.uidMax],
        ['SYS_GID_MIN', this.uidMin],
        ['SYS_GID_MAX', this.uidMax],
      ].flatMap(([k, v]) => ['-K', `${k}=${v}`]);
      try {
        await run('useradd', [
          '--system',
          ...range,
          '--user-group',
          '--no-create-home',
          '--home-dir',
          home,
          '--shell',
          '/usr/sbin/nologin',
          '--comment',
          `meridian workload ${key.slice(0, 100)}`,
          user,
        ]);
      } catch (error) {
        if (exitCode(error) !== USERADD_EXISTS) throw new Error(`useradd ${user} failed: ${describe(error)}`);
      }
      const created = await lookup(user);
      if (!created) throw new Error(`useradd ${user} succeeded but the user cannot be found`);
      if (created.uid < this.uidMin || created.uid > this.uidMax) {
        throw new Error(`${user} has uid ${created.uid}, outside the workload range`);
      }
      return created;
    });
  }

  /** The key's user, if it exists. */
  find(key: string): Promise<WorkloadIdentity | undefined> {
    return lookup(WorkloadUsers.nameOf(key));
  }

  /**
   * Kills every process of the user (see killUidProcesses), and throws if any survives: call it before root
   * removes or walks a tree the user owns. A uid outside this instance's workload range is refused.
   */
  killProcesses(owner: WorkloadIdentity): Promise<void> {
    return killUidProcesses(owner.uid, { uidMin: this.uidMin, uidMax: this.uidMax });
  }

  /** Deletes the key's user (its files are the caller's to remove); absent is fine. */
  remove(key: string): Promise<void> {
    return this.serialize(async () => {
      const user = WorkloadUsers.nameOf(key);
      if (!(await lookup(user))) return;
      await run('userdel', [user]).catch((error: unknown) => {
        throw new Error(`userdel ${user} failed: ${describe(error)}`);
      });
    });
  }

  private serialize<T>(task: () => Promise<T>): Promise<T> {
    const next = this.queue.then(task, task);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

async function lookup(user: string): Promise<WorkloadIdentity | undefined> {
  try {
    const { stdout } = await run('getent', ['passwd', user]);
    const [, , uid, gid] = stdout.trim().split(':');
    if (uid === undefined || gid === undefined) return undefined;
    return { user, uid: Number(uid), gid: Number(gid) };
  } catch {
    return undefined; // getent exits 2 for an unknown user
  }
}

function exitCode(error: unknown): number | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'number'
    ? error.code
    : undefined;
}

function describe(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'stderr' in error && String(error.stderr).trim()) {
    return String(error.stderr).trim();
  }
  return error instanceof Error ? error.message : String(error);
}
