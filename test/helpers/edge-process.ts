import { Agent, type RequestInit as UndiciRequestInit, fetch as undiciFetch } from 'undici';
import { startLoggedProcess } from './logged-process.js';
import type { ExitStatus } from './processes.js';

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
  const { value, stop, logs } = await startLoggedProcess({
    name: 'edge',
    args: ['scripts/edge.mjs'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
    ready: /"msg":"edge listening","url":"([^"]+)"/,
    timeoutMs: 60_000,
  });
  return { url: value, stop, logs };
}

// Miniflare's Node proxy in front of workerd closes idle keep-alive connections after a few seconds; a POST
// sent on such a socket just as it closes fails with "other side closed" (and POSTs are not retried). Test
// clients therefore let their idle connections go first, after one second.
const edgeAgent = new Agent({ keepAliveTimeout: 1_000, keepAliveMaxTimeout: 1_000 });

/** `fetch` for calls to the local edge (see above). */
export function edgeFetch(url: string, init: RequestInit = {}): Promise<Response> {
  return undiciFetch(url, {
    ...(init as UndiciRequestInit),
    dispatcher: edgeAgent,
  }) as unknown as Promise<Response>;
}
