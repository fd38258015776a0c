import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ExitStatus } from './processes.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const READY_TIMEOUT_MS = 60_000;

export interface RunningEdge {
  url: string;
  stop(): Promise<ExitStatus>;
  logs(): string;
}

/**
 * Runs the edge Worker in workerd as `npm start` does (scripts/edge.mjs: wrangler's bundle under Miniflare)
 * with only `env`, and resolves once it logs that it listens.
 */
export async function startEdgeProcess(env: Record<string, string>): Promise<RunningEdge> {
  const child: ChildProcess = spawn(process.execPath, ['scripts/edge.mjs'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let all = '';
  const exited = new Promise<ExitStatus>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const listening = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('edge did not log "edge listening" in time')),
      READY_TIMEOUT_MS,
    );
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      all += chunk;
      const match = /"msg":"edge listening","url":"([^"]+)"/.exec(all);
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
      reject(new Error(`edge exited early (code ${s.code}, signal ${s.signal})`));
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
  try {
    return { url: await listening, stop, logs: () => all };
  } catch (err) {
    await stop();
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n--- edge output ---\n${all}`);
  }
}
