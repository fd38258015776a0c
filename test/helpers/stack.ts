import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningAgent } from './agent-process.js';
import { type RunningEdge, startEdgeProcess } from './edge-process.js';
import { startRegisteredAgent } from './platform.js';
import { freePort } from './ports.js';
import { type RunningControlPlane, startControlPlane } from './processes.js';

export interface Stack {
  dir: string;
  cp: RunningControlPlane;
  agent: RunningAgent;
  edge: RunningEdge;
  stop(): Promise<void>;
  logs(): string;
}

/**
 * The platform as `npm start` runs it, in one temp dir: a control plane with a fast scheduler, one CPU
 * agent, and the edge Worker in workerd, each on a free port.
 */
export async function startStack(name: string, cpEnv: Record<string, string> = {}): Promise<Stack> {
  const dir = await mkdtemp(join(tmpdir(), `${name}-`));
  const start = () =>
    startControlPlane({
      dataDir: join(dir, 'cp'),
      env: {
        MERIDIAN_AGENT_HEARTBEAT_SECONDS: '1',
        MERIDIAN_SCHEDULER_INTERVAL_MS: '250',
        MERIDIAN_LOG_LEVEL: 'warn',
        MERIDIAN_AUTH_REGISTRATIONS_PER_ADDRESS: '1000',
        ...cpEnv,
      },
    });
  // On a loaded CI machine the first start can outlast the helper's 20 s bound while tsx compiles; the
  // second start finds the compiled files cached.
  const cp = await start().catch(start);
  let agent: RunningAgent | undefined;
  let edge: RunningEdge | undefined;
  const stop = async () => {
    await edge?.stop();
    await agent?.stop();
    await cp.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    agent = await startRegisteredAgent(cp.url, join(dir, 'cp'), join(dir, 'agent'));
    const startEdge = async () =>
      startEdgeProcess({
        MERIDIAN_DATA_DIR: join(dir, 'cp'),
        MERIDIAN_EDGE_STATE_DIR: join(dir, 'edge'),
        MERIDIAN_EDGE_PORT: String(await freePort()),
        MERIDIAN_EDGE_CONTROL_PLANE_URL: cp.url,
        MERIDIAN_EDGE_VAR_ROUTING_REFRESH_SECONDS: '1',
      });
    // Its first start bundles the Worker with wrangler; a second one reuses that build.
    edge = await startEdge().catch(startEdge);
  } catch (err) {
    await stop();
    throw err;
  }
  const [a, e] = [agent, edge];
  return {
    dir,
    cp,
    agent: a,
    edge: e,
    stop,
    logs: () =>
      `--- control plane ---\n${cp.logs().slice(-4000)}\n--- agent ---\n${a.logs().slice(-4000)}\n--- edge ---\n${e.logs().slice(-3000)}`,
  };
}
