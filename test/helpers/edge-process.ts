import { readdirSync, readFileSync } from 'node:fs';
import { Agent, type RequestInit as UndiciRequestInit, fetch as undiciFetch } from 'undici';
import { startLoggedProcess } from './logged-process.js';
import type { ExitStatus } from './processes.js';

export interface RunningEdge {
  url: string;
  /** The process id of scripts/edge.mjs; workerd runs as its child (see workerdOf). */
  pid: number;
  stop(): Promise<ExitStatus>;
  logs(): string;
}

/**
 * Runs the edge Worker in workerd as `npm start` does (scripts/edge.mjs: wrangler's bundle under Miniflare)
 * with only `env`, and resolves once it logs that it listens.
 */
export async function startEdgeProcess(env: Record<string, string>): Promise<RunningEdge> {
  const { value, pid, stop, logs } = await startLoggedProcess({
    name: 'edge',
    args: ['scripts/edge.mjs'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
    ready: /"msg":"edge listening","url":"([^"]+)"/,
    // Patient: wrangler's bundle and workerd's start have taken over 60 s on a busy two-core machine.
    timeoutMs: 120_000,
  });
  return { url: value, pid, stop, logs };
}

// workerd closes a keep-alive connection after 5 s idle. undici's default idle timeout is 4 s, kept by coarse
// timers that run late on a busy event loop, so a loaded test process can send a request on a connection
// workerd is closing at that moment (seen about once in 1,000 calls with 50 callers pausing between calls);
// POSTs are not retried. Test clients keep connections alive, but for 2 s at most.
const edgeAgent = new Agent({ keepAliveTimeout: 2_000 });

/**
 * `fetch` for calls to the local edge: a keep-alive client as users have (connections reused across calls).
 * The edge answers every refusal to a client still sending its body (it drains the body around the
 * answer), so tests need no connection per call.
 */
export function edgeFetch(url: string, init: RequestInit = {}): Promise<Response> {
  return undiciFetch(url, {
    ...(init as UndiciRequestInit),
    dispatcher: edgeAgent,
  }) as unknown as Promise<Response>;
}

/** The workerd process serving `edge` (Miniflare's child), found through /proc. */
export function workerdOf(edge: Pick<RunningEdge, 'pid'>): number {
  const child = readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .find((pid) => parentOf(pid) === edge.pid && commandOf(pid) === 'workerd');
  if (child === undefined) throw new Error(`no workerd process under pid ${edge.pid}`);
  return child;
}

/** Resident memory of a process, in bytes (VmRSS of /proc/<pid>/status). */
export function residentBytes(pid: number): number {
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (kib === undefined) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kib) * 1024;
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command's closing parenthesis: state, then the parent's pid.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}
