import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Clock ticks per second of /proc/<pid>/stat times. */
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no port'))));
    });
  });
}

export interface Running {
  name: string;
  pid: number;
  /** First capture group of `ready` in stdout (or '' when ready was a port check). */
  value: string;
  logs(): string;
  alive(): boolean;
  /** User + system CPU of the process and all its descendants so far, in µs. */
  cpuMicros(): number;
  stop(): Promise<void>;
}

/**
 * Spawns `command args` with `env` and resolves once its stdout (or stderr) matches `ready`; on a timeout or
 * an early exit it kills the process and throws with what it printed.
 */
export async function startProcess(options: {
  name: string;
  command: string;
  args: string[];
  env: Record<string, string | undefined>;
  /** A line it prints once ready, or a probe that answers true once it is. */
  ready: RegExp | (() => Promise<boolean>);
  timeoutMs?: number;
  cwd?: string;
}): Promise<Running> {
  const child = spawn(options.command, options.args, {
    cwd: options.cwd ?? REPO_ROOT,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let all = '';
  const value = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${options.name} was not ready in time\n${all.slice(-4000)}`)),
      options.timeoutMs ?? 60_000,
    );
    const { ready } = options;
    const onData = (chunk: string) => {
      // Keep the tail only: a long run must not hold every log line.
      all = (all + chunk).slice(-200_000);
      const match = ready instanceof RegExp ? ready.exec(all) : null;
      if (match) {
        clearTimeout(timer);
        resolve(match[1] ?? '');
      }
    };
    if (!(ready instanceof RegExp)) {
      const poll = async () => {
        while (child.exitCode === null && child.signalCode === null) {
          if (await ready().catch(() => false)) {
            clearTimeout(timer);
            resolve('');
            return;
          }
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      void poll();
    }
    child.stdout.setEncoding('utf8').on('data', onData);
    child.stderr.setEncoding('utf8').on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(
        new Error(`${options.name} exited (${code ?? signal}) before it was ready\n${all.slice(-4000)}`),
      );
    });
  }).catch(async (err: unknown) => {
    await stopChild(child);
    throw err;
  });
  const pid = child.pid ?? -1;
  return {
    name: options.name,
    pid,
    value,
    logs: () => all,
    alive: () => child.exitCode === null && child.signalCode === null,
    cpuMicros: () => treeCpuMicros(pid),
    stop: () => stopChild(child),
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** User and system CPU of one process in µs; 0 once it is gone. */
export function processCpuSplit(pid: number): { user: number; system: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: (Number(fields[11]) * 1e6) / CLK_TCK, system: (Number(fields[12]) * 1e6) / CLK_TCK };
  } catch {
    return { user: 0, system: 0 };
  }
}

/** utime + stime of one process in µs; 0 once it is gone. */
export function processCpuMicros(pid: number): number {
  const { user, system } = processCpuSplit(pid);
  return user + system;
}

/** The pids of a process and all its descendants (Linux /proc/<pid>/task/<tid>/children). */
export function processTree(pid: number): number[] {
  const pids = [pid];
  for (let i = 0; i < pids.length; i++) {
    const p = pids[i] as number;
    try {
      for (const tid of readdirSync(`/proc/${p}/task`)) {
        const children = readFileSync(`/proc/${p}/task/${tid}/children`, 'latin1').trim();
        if (children) pids.push(...children.split(' ').map(Number));
      }
    } catch {
      // The process ended while being read: it has no children left to count.
    }
  }
  return pids;
}

/**
 * Restricts a process and its live descendants, every thread of each, to one CPU (`taskset -a -p -c`).
 * Children started later inherit it.
 */
export function pinTree(pid: number, cpu: number): void {
  for (const p of processTree(pid))
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(p)], { stdio: 'ignore' });
}

/** CPU of a process and its live descendants, in µs (a descendant that exited takes its time with it). */
export function treeCpuMicros(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + processCpuMicros(p), 0);
}

/** Whole-machine jiffies from /proc/stat: busy, all, and stolen by the hypervisor. */
export function machineJiffies(): { busy: number; total: number; steal: number } {
  const fields =
    readFileSync('/proc/stat', 'latin1').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total, steal: fields[7] ?? 0 };
}

/** The environment every benchmark process starts from: a path and a home, nothing of the caller's secrets. */
export const baseEnv = () => ({
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: process.env.HOME ?? '/root',
});

/** A CPU-only gpu-agent registering with `cpUrl` under a bootstrap token, its state in `dataDir`. */
export async function startBenchAgent(options: {
  cpUrl: string;
  bootstrapToken: string;
  dataDir: string;
  timeoutMs: number;
}): Promise<Running> {
  return startProcess({
    name: 'agent',
    command: process.execPath,
    args: ['--import', 'tsx', 'gpu-agent/src/main.ts'],
    env: {
      ...baseEnv(),
      MERIDIAN_AGENT_CONTROL_PLANE_URL: options.cpUrl,
      MERIDIAN_AGENT_BOOTSTRAP_TOKEN: options.bootstrapToken,
      MERIDIAN_AGENT_DATA_DIR: options.dataDir,
      MERIDIAN_AGENT_LISTEN_PORT: String(await freePort()),
      // No NVIDIA driver here: a missing binary makes the CPU-only inventory certain on any host.
      MERIDIAN_AGENT_NVIDIA_SMI: `${options.dataDir}/no-nvidia-smi`,
      // Nothing the bench started outlives it.
      MERIDIAN_AGENT_ON_STOP: 'stop-workloads',
    },
    ready: /"msg":"agent running","agentId":"([^"]+)"/,
    timeoutMs: options.timeoutMs,
  });
}
