import { spawn } from 'node:child_process';
import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { killUidProcesses, processesOf } from '../uid-processes.js';
import { WORKLOAD_UID_MAX, WORKLOAD_UID_MIN, type WorkloadIdentity } from '../workload-users.js';

/** SIGUSR1's bit in /proc/<pid>/status SigCgt: the shell has installed its trap. */
const SIGUSR1_CAUGHT = 1n << 9n;

/**
 * A tenant's process left from an earlier run: as the workload's user, in a session of its own (setsid, so
 * no signal to the workload's process group reaches it). Told to (`swap`), it moves `<dir>/<name>` aside and
 * puts a link to `target` in its place, as an attacker does between root's check of a folder and its
 * listing; once it is dead, nothing happens.
 */
export interface LeftoverSwapper {
  pid: number;
  /** Has the process make the swap now; true once the link is in place, false when it is no longer alive. */
  swap(): Promise<boolean>;
  /** Kills it and anything else of its uid (its `sleep`s), whatever happened. */
  kill(): Promise<void>;
}

export async function startLeftoverSwapper(
  owner: WorkloadIdentity,
  dir: string,
  name: string,
  target: string,
): Promise<LeftoverSwapper> {
  const script =
    'trap \'mv -- "$1/$2" "$1/$2.old" && ln -s -- "$3" "$1/$2"\' USR1; while :; do sleep 0.05; done';
  const child = spawn(
    'setpriv',
    [
      `--reuid=${owner.uid}`,
      `--regid=${owner.gid}`,
      '--clear-groups',
      '--',
      'setsid',
      'sh',
      '-c',
      script,
      'sh',
      dir,
      name,
      target,
    ],
    { stdio: 'ignore' },
  );
  const pid = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('spawn', () => (child.pid ? resolve(child.pid) : reject(new Error('no pid'))));
  });
  const alive = async () => (await processesOf(owner.uid)).includes(pid);
  // Until setpriv has dropped to the uid the process is root's, and a USR1 before the trap would end it.
  for (let i = 0; i < 200; i++) {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    const caught = /^SigCgt:\s+([0-9a-f]+)/m.exec(status)?.[1];
    if ((await alive()) && caught && (BigInt(`0x${caught}`) & SIGUSR1_CAUGHT) !== 0n) break;
    await sleep(10);
  }
  return {
    pid,
    async swap() {
      if (!(await alive())) return false;
      try {
        process.kill(pid, 'SIGUSR1');
      } catch {
        return false; // gone since
      }
      for (let i = 0; i < 300; i++) {
        if ((await lstat(join(dir, name)).catch(() => undefined))?.isSymbolicLink()) return true;
        if (!(await alive())) return false;
        await sleep(10);
      }
      throw new Error(`the leftover process ${pid} did not swap ${join(dir, name)}`);
    },
    async kill() {
      await killUidProcesses(owner.uid, { uidMin: WORKLOAD_UID_MIN, uidMax: WORKLOAD_UID_MAX });
    },
  };
}
