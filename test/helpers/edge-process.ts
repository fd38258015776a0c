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
