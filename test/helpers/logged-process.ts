import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ExitStatus } from './processes.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface LoggedProcess {
  /** The first capture group of `ready` in the process's stdout. */
  value: string;
  /** Its process id (to find its children, e.g. the workerd that Miniflare starts). */
  pid: number;
  /** SIGTERM, then SIGKILL after 10 s; resolves with how it exited. */
  stop(): Promise<ExitStatus>;
  /** SIGKILL at once, as a crash or a power cut would: no shutdown code runs. */
  kill(): Promise<ExitStatus>;
  logs(): string;
}

/**
 * Runs `node <args>` from the repository root with only `env` (no shell environment leaks in) and resolves
 * once its stdout matches `ready`; on timeout or an early exit it stops the process and throws with its output.
 */
export async function startLoggedProcess(options: {
  name: string;
  args: string[];
  env: Record<string, string>;
  ready: RegExp;
  timeoutMs: number;
}): Promise<LoggedProcess> {
  const child: ChildProcess = spawn(process.execPath, options.args, {
    cwd: REPO_ROOT,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let all = '';
  const exited = new Promise<ExitStatus>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const ready = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${options.name} did not log ${options.ready} in time`)),
      options.timeoutMs,
    );
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      all += chunk;
      const match = options.ready.exec(all);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      all += chunk;
    });
    void exited.then((s) => {
      clearTimeout(timer);
      reject(new Error(`${options.name} exited early (code ${s.code}, signal ${s.signal})`));
    });
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const status = await exited;
      clearTimeout(timer);
      return status;
    }
    return exited;
  };
  const kill = () => {
    child.kill('SIGKILL');
    return exited;
  };
  try {
    return { value: await ready, pid: child.pid ?? 0, stop, kill, logs: () => all };
  } catch (err) {
    await stop();
    throw new Error(
      `${err instanceof Error ? err.message : String(err)}\n--- ${options.name} output ---\n${all}`,
    );
  }
}
