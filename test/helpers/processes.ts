import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const READY_TIMEOUT_MS = 20_000;
const KILL_AFTER_MS = 5_000;

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunningControlPlane {
  url: string;
  port: number;
  /** SIGTERM, wait for the exit, SIGKILL if it has not gone after 5 s. */
  stop(): Promise<void>;
  /** SIGKILL at once: no shutdown code runs, leases are not given back, in-flight work is cut. */
  kill(): Promise<ExitStatus>;
  /** Settles when the process has exited, however that happened. */
  exited: Promise<ExitStatus>;
  /** Everything the process wrote to stdout so far. */
  stdout(): string;
  /** stdout and stderr interleaved, for failure messages. */
  logs(): string;
}

/**
 * Runs `control-plane/src/main.ts` as its own Node process on 127.0.0.1 and a free port, with an
 * environment holding only MERIDIAN_DATA_DIR, MERIDIAN_PORT and `env`: nothing leaks in from the shell
 * running the tests. Resolves once GET /health answers 200 (20 s at most).
 */
export async function startControlPlane(options: {
  dataDir: string;
  env?: Record<string, string>;
  /** A restart passes the previous port: the default issuer of tokens is the URL, port included. */
  port?: number;
}): Promise<RunningControlPlane> {
  const port = options.port ?? (await freePort());
  const child = spawn(process.execPath, ['--import', 'tsx', 'control-plane/src/main.ts'], {
    cwd: REPO_ROOT,
    env: { MERIDIAN_DATA_DIR: options.dataDir, MERIDIAN_PORT: String(port), ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let all = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    all += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    all += chunk;
  });
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });

  const url = `http://127.0.0.1:${port}`;
  const stop = () => stopProcess(child, exited);
  try {
    await waitForHealth(url, exited);
  } catch (error) {
    await stop();
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`control plane did not become healthy: ${reason}\n--- process output ---\n${all}`);
  }
  const kill = () => {
    child.kill('SIGKILL');
    return exited;
  };
  return { url, port, stop, kill, exited, stdout: () => out, logs: () => all };
}

async function waitForHealth(url: string, exited: Promise<ExitStatus>): Promise<void> {
  let exit: ExitStatus | undefined;
  void exited.then((status) => {
    exit = status;
  });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (exit) throw new Error(`process exited early (code ${exit.code}, signal ${exit.signal})`);
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1_000) });
      if (res.status === 200) return;
      last = `GET /health answered ${res.status}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no 200 from ${url}/health within ${READY_TIMEOUT_MS} ms (last: ${last})`);
}

async function stopProcess(child: ChildProcess, exited: Promise<ExitStatus>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
  await exited;
  clearTimeout(timer);
}
