import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ExitStatus } from './processes.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const READY_TIMEOUT_MS = 30_000;

export interface RunningAgent {
  agentId: string;
  /** SIGTERM, then SIGKILL after 10 s; resolves with how it exited. */
  stop(): Promise<ExitStatus>;
  /** SIGKILL at once, as a crash or a power cut would: no shutdown code runs. */
  kill(): Promise<ExitStatus>;
  logs(): string;
}

/**
 * Runs `gpu-agent/src/main.ts` as its own process with only `env` (no shell environment leaks in) and
 * resolves once it logs `agent running`, with the agent id it logged.
 */
export async function startAgentProcess(env: Record<string, string>): Promise<RunningAgent> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'gpu-agent/src/main.ts'], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let all = '';
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const running = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('agent did not log "agent running" in time')),
      READY_TIMEOUT_MS,
    );
    const onData = (chunk: string) => {
      all += chunk;
      const match = /"msg":"agent running","agentId":"([^"]+)"/.exec(all);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.setEncoding('utf8').on('data', onData);
    child.stderr?.setEncoding('utf8').on('data', (c: string) => {
      all += c;
    });
    void exited.then((s) => {
      clearTimeout(timer);
      reject(new Error(`agent exited early (code ${s.code}, signal ${s.signal})`));
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
    const agentId = await running;
    const kill = () => {
      child.kill('SIGKILL');
      return exited;
    };
    return { agentId, stop, kill, logs: () => all };
  } catch (err) {
    await stop();
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n--- agent output ---\n${all}`);
  }
}
