import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunningAgent } from './agent-process.js';
import { startRegisteredAgent } from './platform.js';
import { freePort } from './ports.js';

const START = fileURLToPath(new URL('../../scripts/start.mjs', import.meta.url));

/** The platform as `npm start` runs it, from a temp dir standing for where a user runs it. */
export interface StartedStack {
  /** Where it runs; its data is in the relative default `.data` there. */
  cwd: string;
  cpUrl: string;
  edgeUrl: string;
  output(): string;
  /** One more agent on its own "host" (its own data and workloads dirs, no folder shared with the first). */
  addAgent(name: string, env?: Record<string, string>): Promise<RunningAgent>;
  stop(): Promise<void>;
}

/**
 * Runs `scripts/start.mjs` exactly as `npm start` does (relative `.data`, every component a child), on
 * free loopback ports, and resolves once it says everything is up. `env` adds to the defaults here.
 */
export async function startStack(env: Record<string, string> = {}): Promise<StartedStack> {
  const cwd = mkdtempSync(join(tmpdir(), 'meridian-stack-'));
  chmodSync(cwd, 0o711); // where a user runs it from is passable, as a home or a checkout is
  const [cp, agent, edge, metrics] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const cpUrl = `http://127.0.0.1:${cp}`;
  const edgeUrl = `http://127.0.0.1:${edge}`;
  const child: ChildProcess = spawn(process.execPath, [START], {
    cwd,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: cwd,
      MERIDIAN_PORT: String(cp),
      MERIDIAN_AGENT_LISTEN_PORT: String(agent),
      MERIDIAN_EDGE_PORT: String(edge),
      MERIDIAN_EDGE_PUBLIC_URL: edgeUrl,
      MERIDIAN_AGENT_METRICS_LISTEN: `127.0.0.1:${metrics}`,
      MERIDIAN_LOG_LEVEL: 'warn',
      // Tests run side by side on few cores: the edge's bundling alone can pass start.mjs's default minute.
      MERIDIAN_START_READY_SECONDS: '240',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: string) => {
    output += chunk;
  };
  child.stdout?.setEncoding('utf8').on('data', collect);
  child.stderr?.setEncoding('utf8').on('data', collect);
  const agents: RunningAgent[] = [];

  const stop = async () => {
    for (const a of agents) await a.stop();
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(cwd, { recursive: true, force: true });
  };

  const deadline = Date.now() + 600_000;
  while (!output.includes('Ctrl-C stops everything.')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`npm start did not come up:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    cwd,
    cpUrl,
    edgeUrl,
    output: () => output,
    addAgent: async (name, extra = {}) => {
      mkdirSync(join(cwd, name), { recursive: true });
      const a = await startRegisteredAgent(
        cpUrl,
        join(cwd, '.data', 'control-plane'),
        join(cwd, name, 'agent'),
        { MERIDIAN_AGENT_HEARTBEAT_SECONDS: env.MERIDIAN_AGENT_HEARTBEAT_SECONDS ?? '5', ...extra },
      );
      agents.push(a);
      return a;
    },
    stop,
  };
}
