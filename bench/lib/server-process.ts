import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ReadyMessage } from '../servers/ready.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const READY_TIMEOUT_MS = 30_000;

/** Clock ticks per second of /proc/<pid>/stat times (100 on every Linux this runs on, but ask). */
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

export interface ServerProcess extends ReadyMessage {
  pid: number;
  /** User + system CPU the process has used so far, in microseconds (from /proc/<pid>/stat). */
  cpuMicros(): number;
  stop(): Promise<void>;
}

/**
 * Starts `bench/servers/<name>.ts` in its own Node process (node --import tsx, so the pid is the server
 * itself, not a tsx wrapper) and waits for it to report its port over IPC.
 */
export async function startServer(name: string, nodeFlags: string[] = []): Promise<ServerProcess> {
  const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', `bench/servers/${name}.ts`], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, MERIDIAN_LOG_LEVEL: process.env.MERIDIAN_LOG_LEVEL },
    // stdout (the access log) goes to /dev/null: written for real, read by nobody, not by the parent's loop.
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const { pid } = child;
  if (pid === undefined) throw new Error(`could not start ${name}`);
  const ready = await waitForReady(child, name);
  return {
    ...ready,
    pid,
    cpuMicros: () => readCpuMicros(pid),
    stop: () => stopChild(child),
  };
}

async function waitForReady(child: ChildProcess, name: string): Promise<ReadyMessage> {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new Error(`${name} was not ready within ${READY_TIMEOUT_MS} ms`)),
    READY_TIMEOUT_MS,
  );
  const { signal } = controller;
  const exited = once(child, 'exit', { signal }).then(([code]) => {
    throw new Error(`${name} exited (code ${String(code)}) before it was ready`);
  });
  // The race below observes this rejection; aborting the listener afterwards must not become unhandled.
  exited.catch(() => {});
  try {
    const [message] = await Promise.race([once(child, 'message', { signal }), exited]);
    return message as ReadyMessage;
  } catch (error) {
    child.kill('SIGKILL');
    throw signal.aborted ? signal.reason : error;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

function readCpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name (which may hold spaces); utime and stime are fields 14, 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1e6) / CLK_TCK;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
