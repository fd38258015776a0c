import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { readProcStat } from './process-records.js';
import { killUidProcesses, processesOf } from './uid-processes.js';

const RANGE = { uidMin: 200_000, uidMax: 299_999 };
const started: number[] = [];

/** A `sleep` running as `uid` in a session of its own (as a tenant's setsid leaves one). */
async function sleeperAs(uid: number): Promise<number> {
  const child = spawn(
    'setpriv',
    [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--', 'setsid', 'sleep', '1000'],
    { stdio: 'ignore' },
  );
  const pid = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('spawn', () => (child.pid ? resolve(child.pid) : reject(new Error('no pid'))));
  });
  started.push(pid);
  // Until setpriv has dropped to the uid, the process is still root's.
  for (let i = 0; i < 100 && !(await processesOf(uid)).includes(pid); i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  return pid;
}

async function alive(pid: number): Promise<boolean> {
  const stat = await readProcStat(pid);
  return stat !== undefined && stat.state !== 'Z';
}

afterEach(() => {
  for (const pid of started.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

describe.runIf(process.getuid?.() === 0)('killing a workload user’s processes', () => {
  it('kills every process of a uid in the workload range, those outside its process group too', async () => {
    const uid = RANGE.uidMin + 4242;
    const pids = [await sleeperAs(uid), await sleeperAs(uid)];
    expect((await processesOf(uid)).sort()).toEqual([...pids].sort());

    await killUidProcesses(uid, RANGE);

    expect(await processesOf(uid)).toEqual([]);
    for (const pid of pids) expect(await alive(pid)).toBe(false);
  });

  it('refuses a uid outside the workload range, and root, and leaves their processes alone', async () => {
    const nobody = await sleeperAs(65534);
    await expect(killUidProcesses(65534, RANGE)).rejects.toThrow(/outside the workload range/);
    await expect(killUidProcesses(0, { uidMin: 0, uidMax: 10 })).rejects.toThrow(
      /outside the workload range/,
    );
    await expect(killUidProcesses(0, RANGE)).rejects.toThrow(/outside the workload range/);
    expect(await alive(nobody)).toBe(true);
    expect(await alive(process.pid)).toBe(true);
  });
});
