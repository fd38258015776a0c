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

// The local edge closes idle keep-alive connections on its own schedule; a POST written on such a socket just
// as it closes fails with ECONNRESET ("write ECONNRESET" mid-body, seen once in CI even with a 1 s client idle
// timeout), and POSTs are not retried. Test clients therefore open a connection per call: on loopback that
// costs well under a millisecond, and a reset can then only mean the edge really dropped the request.
const edgeAgent = new Agent({ pipelining: 0 });

/** `fetch` for calls to the local edge (see above). */
export function edgeFetch(url: string, init: RequestInit = {}): Promise<Response> {
  return undiciFetch(url, {
    ...(init as UndiciRequestInit),
    dispatcher: edgeAgent,
  }) as unknown as Promise<Response>;
}
