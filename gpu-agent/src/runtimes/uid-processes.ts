import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

export interface UidRange {
  uidMin: number;
  uidMax: number;
}

export interface KillUidOptions {
  /** Scans (each followed by SIGKILL to what it found) before giving up. Default 50. */
  rounds?: number;
  /** Time before giving up, whatever the rounds left. Default 5 s. */
  timeoutMs?: number;
}

/** Raised instead of removing a workload's files while a process of its user is still alive. */
export class UidProcessesSurviveError extends Error {
  constructor(uid: number, pids: number[]) {
    super(
      `processes of workload uid ${uid} survived SIGKILL (pids ${pids.join(', ')}); ` +
        'its files are left in place rather than removed while they could still swap them for links',
    );
    this.name = 'UidProcessesSurviveError';
  }
}

/**
 * SIGKILLs every live process of `uid` (real, effective, saved or filesystem uid) until a scan of /proc finds
 * none: root walks a tree that user owns only once nothing of theirs can swap a folder in it for a link
 * between root's check and its listing. A process that left the workload's process group (setsid, a double
 * fork) is found by its uid all the same; one forking while we scan is found by the next scan. Refuses any
 * uid outside `range`, so it can never reach root's, the agent's or a login user's processes.
 */
export async function killUidProcesses(
  uid: number,
  range: UidRange,
  options: KillUidOptions = {},
): Promise<void> {
  if (!Number.isInteger(uid) || uid < range.uidMin || uid > range.uidMax || uid === 0) {
    throw new Error(`refusing to kill the processes of uid ${uid}: outside the workload range`);
  }
  if (uid === process.getuid?.())
    throw new Error(`refusing to kill the processes of uid ${uid}: the agent's own`);
  const rounds = options.rounds ?? 50;
  const deadline = Date.now() + (options.timeoutMs ?? 5_000);
  let pids = await processesOf(uid);
  for (let round = 0; pids.length > 0 && round < rounds && Date.now() < deadline; round++) {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already (ESRCH)
      }
    }
    await sleep(Math.min(10 * (round + 1), 100));
    pids = await processesOf(uid);
  }
  if (pids.length > 0) throw new UidProcessesSurviveError(uid, pids);
}

const DEAD = /^State:\s+[ZX]/m;

function uidsIn(status: string): number[] {
  return /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(status)?.slice(1).map(Number) ?? [];
}

/**
 * Whether a process whose first thread reads as a zombie still runs: a leader that called pthread_exit is a
 * zombie in /proc/<pid>/status while the process's other threads run on, as its user.
 */
async function runsOnInThreads(pid: string, uid: number): Promise<boolean> {
  const tids = await readdir(`/proc/${pid}/task`).catch(() => []);
  for (const tid of tids) {
    if (tid === pid) continue;
    const status = await readFile(`/proc/${pid}/task/${tid}/status`, 'utf8').catch(() => undefined);
    if (status !== undefined && !DEAD.test(status) && uidsIn(status).includes(uid)) return true;
  }
  return false;
}

/**
 * Pids of the live processes with `uid` among their uids; zombies (dead, holding nothing) are left out, but not
 * a process whose leader alone has exited (SIGKILL to its pid ends its other threads too).
 */
export async function processesOf(uid: number): Promise<number[]> {
  const names = await readdir('/proc');
  const found: number[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    const status = await readFile(`/proc/${name}/status`, 'utf8').catch(() => undefined);
    if (status === undefined) continue; // exited while we listed
    const live = DEAD.test(status) ? await runsOnInThreads(name, uid) : uidsIn(status).includes(uid);
    if (live) found.push(pid);
  }
  return found;
}
