import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

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
 * fork) is reached by its uid all the same, and so is a chain forking faster than a scan (kill(-1) as the uid
 * first). Refuses any uid outside `range`, so it can never reach root's, the agent's or a login user's processes.
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
  // A scan alone can miss a process: one that forks and exits in a chain is gone when its pid is read, and its
  // child is newer than the listing. kill(-1) as the uid reaches all of them at once (the kernel signals every
  // process the uid may signal while no fork can finish), so after it nothing of the uid is left to fork.
  await killAllAs(uid);
  let pids = await processesOf(uid);
  for (let round = 0; pids.length > 0 && round < rounds && Date.now() < deadline; round++) {
    await killAllAs(uid);
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

/**
 * Sends SIGKILL to every process `uid` may signal (those whose real or saved uid is `uid`), from a short-lived
 * process of that uid: sh's `kill -KILL -1`, which spares only itself. Its group is nogroup and it has no
 * supplementary groups, so nothing of root's lingers in it. Which exit status it ends with does not matter
 * (none left to signal is fine); a failure to start it does.
 */
async function killAllAs(uid: number): Promise<void> {
  try {
    await run('setpriv', [
      `--reuid=${uid}`,
      '--regid=65534',
      '--clear-groups',
      '--',
      'sh',
      '-c',
      'kill -KILL -1',
    ]);
  } catch (error) {
    if (typeof (error as { code?: unknown }).code === 'number') return;
    throw error;
  }
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
