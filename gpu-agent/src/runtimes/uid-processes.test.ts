import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
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

/** Threads of `pid` that are neither zombies nor dead: what still runs of it. */
async function liveThreads(pid: number): Promise<number> {
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => []);
  let live = 0;
  for (const tid of tasks) {
    const status = await readFile(`/proc/${pid}/task/${tid}/status`, 'utf8').catch(() => '');
    if (/^State:\s+[^ZX\s]/m.test(status)) live++;
  }
  return live;
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

  it('kills a process whose first thread has exited while its other threads run on', async () => {
    const uid = RANGE.uidMin + 4243;
    // The leader thread ends (pthread_exit) and reads as a zombie in /proc/<pid>/status, yet the process lives
    // on in its other thread, as able as ever to swap a folder for a link while root walks the user's files.
    const script = [
      'import ctypes, threading, time',
      'threading.Thread(target=lambda: [time.sleep(0.05) for _ in iter(int, 1)]).start()',
      'ctypes.CDLL(None).pthread_exit(None)',
    ].join('\n');
    const child = spawn(
      'setpriv',
      [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--', 'setsid', 'python3', '-c', script],
      { stdio: 'ignore' },
    );
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('spawn', () => (child.pid ? resolve(child.pid) : reject(new Error('no pid'))));
    });
    started.push(pid);
    for (let i = 0; i < 200 && (await readProcStat(pid))?.state !== 'Z'; i++) await sleep(20);
    expect((await readProcStat(pid))?.state).toBe('Z');
    expect(await liveThreads(pid)).toBeGreaterThan(0);

    await killUidProcesses(uid, RANGE);

    expect(await liveThreads(pid)).toBe(0);
  });

  it('kills a chain of processes that each fork and exit, newer than any scan of /proc', async () => {
    const uid = RANGE.uidMin + 4244;
    const dir = mkdtempSync(join(tmpdir(), 'uid-chain-'));
    chmodSync(dir, 0o777);
    const beat = join(dir, 'beat');
    // Each generation leaves a mark, forks and exits at once: a scan lists a pid that is gone when it is read,
    // and its child, born after the listing, is in no scan.
    const script = [
      'import os',
      'while True:',
      `    open(${JSON.stringify(beat)}, "a").write("x")`,
      '    if os.fork(): os._exit(0)',
    ].join('\n');
    spawn(
      'setpriv',
      [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--', 'setsid', 'python3', '-c', script],
      { stdio: 'ignore' },
    );
    const size = () => (existsSync(beat) ? statSync(beat).size : 0);
    try {
      for (let i = 0; i < 200 && size() < 50; i++) await sleep(10);
      expect(size()).toBeGreaterThanOrEqual(50);

      await killUidProcesses(uid, RANGE);

      const after = size();
      await sleep(500);
      expect(size()).toBe(after);
    } finally {
      for (let i = 0; i < 3; i++) {
        spawnSync('setpriv', [
          `--reuid=${uid}`,
          '--regid=65534',
          '--clear-groups',
          '--',
          'sh',
          '-c',
          'kill -KILL -1',
        ]);
        await sleep(50);
      }
      rmSync(dir, { recursive: true, force: true });
    }
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
