import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LoggedProcess, startLoggedProcess } from './logged-process.js';
import { freePort } from './ports.js';

// The shared helpers wait 20–60 s for a start; on a loaded two-core CI machine tsx alone can take longer to
// compile a component the first time, so these starts wait up to two minutes.
const START_TIMEOUT_MS = 120_000;
const PATH = process.env.PATH ?? '/usr/bin:/bin';

/**
 * A one-time agent bootstrap token from the operator route (as platform.ts issues one; written again here so
 * that this module does not load the control plane's sources into the test process).
 */
async function issueBootstrapToken(cpUrl: string, cpDataDir: string): Promise<string> {
  const operatorToken = (await readFile(join(cpDataDir, 'operator-token'), 'utf8')).trim();
  const res = await fetch(`${cpUrl}/internal/v1/agents/bootstrap-tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${operatorToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ttlSeconds: 600 }),
  });
  if (res.status !== 201) throw new Error(`issuing a bootstrap token answered ${res.status}`);
  return ((await res.json()) as { token: string }).token;
}

export interface RunningService {
  url: string;
  stop(): Promise<unknown>;
  logs(): string;
}

/** `control-plane/src/main.ts` on a free port (or `port`), resolving once it logs that it listens. */
export async function startPatientControlPlane(
  dataDir: string,
  env: Record<string, string> = {},
  port?: number,
): Promise<RunningService & { port: number }> {
  const listen = port ?? (await freePort());
  const cp: LoggedProcess = await startLoggedProcess({
    name: 'control plane',
    args: ['--import', 'tsx', 'control-plane/src/main.ts'],
    // info: the "listening" line is what tells it is up.
    env: {
      PATH,
      MERIDIAN_DATA_DIR: dataDir,
      MERIDIAN_PORT: String(listen),
      ...env,
      MERIDIAN_LOG_LEVEL: 'info',
    },
    ready: /"msg":"control plane listening","url":"([^"]+)"/,
    timeoutMs: START_TIMEOUT_MS,
  });
  return { url: `http://127.0.0.1:${listen}`, port: listen, stop: cp.stop, logs: cp.logs };
}

export interface Stack {
  dir: string;
  cp: RunningService;
  agent: RunningService;
  edge: RunningService;
  /**
   * Stops the agent (its workloads as its MERIDIAN_AGENT_ON_STOP says) and starts it again on the same data
   * dir and port; resolves with the new process's log.
   */
  restartAgent(): Promise<() => string>;
  stop(): Promise<void>;
  logs(): string;
}

/**
 * The platform as `npm start` runs it, in one temp dir: a control plane with a fast scheduler, one CPU
 * agent, and the edge Worker in workerd (scripts/edge.mjs), each on a free port.
 */
export async function startStack(
  name: string,
  cpEnv: Record<string, string> = {},
  edgeEnv: Record<string, string> = {},
  agentEnv: Record<string, string> = {},
): Promise<Stack> {
  const dir = await mkdtemp(join(tmpdir(), `${name}-`));
  // Workload users pass through it to their folders (mkdtemp makes it 0700; the agent checks at start-up).
  await chmod(dir, 0o711);
  const cpDir = join(dir, 'cp');
  const started: RunningService[] = [];
  let restartAgent: Stack['restartAgent'] = () => Promise.reject(new Error('the agent has not started'));
  const stop = async () => {
    for (const service of started.reverse()) await service.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    // Chosen first so the control plane can tell browsers where the edge is (notebook URLs, the dashboard).
    const edgePort = await freePort();
    const cp = await startPatientControlPlane(cpDir, {
      MERIDIAN_EDGE_PUBLIC_URL: `http://127.0.0.1:${edgePort}`,
      MERIDIAN_AGENT_HEARTBEAT_SECONDS: '1',
      MERIDIAN_SCHEDULER_INTERVAL_MS: '250',
      MERIDIAN_AUTH_REGISTRATIONS_PER_ADDRESS: '1000',
      ...cpEnv,
    });
    started.push(cp);
    const agentDir = join(dir, 'agent');
    const agentProcessEnv = {
      PATH,
      MERIDIAN_AGENT_CONTROL_PLANE_URL: cp.url,
      MERIDIAN_AGENT_BOOTSTRAP_TOKEN: await issueBootstrapToken(cp.url, cpDir),
      MERIDIAN_AGENT_DATA_DIR: agentDir,
      MERIDIAN_AGENT_LISTEN_PORT: String(await freePort()),
      // No NVIDIA driver here: a missing binary makes the CPU-only inventory certain on any host.
      MERIDIAN_AGENT_NVIDIA_SMI: join(agentDir, 'no-nvidia-smi'),
      // Its workloads stop with it: nothing a test started outlives the test.
      MERIDIAN_AGENT_ON_STOP: 'stop-workloads',
      ...agentEnv,
    };
    const startAgent = () =>
      startLoggedProcess({
        name: 'agent',
        args: ['--import', 'tsx', 'gpu-agent/src/main.ts'],
        env: agentProcessEnv,
        ready: /"msg":"agent running","agentId":"([^"]+)"/,
        timeoutMs: START_TIMEOUT_MS,
      });
    const agent = await startAgent();
    const agentService: RunningService = { url: '', stop: agent.stop, logs: agent.logs };
    started.push(agentService);
    // Same data dir, same port, same environment (its credential is kept): what an upgrade restart does.
    restartAgent = async () => {
      await agentService.stop();
      const before = agentService.logs();
      const next = await startAgent();
      agentService.stop = next.stop;
      agentService.logs = () => `${before}${next.logs()}`;
      return next.logs;
    };
    const edge = await startLoggedProcess({
      name: 'edge',
      args: ['scripts/edge.mjs'],
      env: {
        PATH,
        HOME: process.env.HOME ?? '/root',
        MERIDIAN_DATA_DIR: cpDir,
        MERIDIAN_EDGE_STATE_DIR: join(dir, 'edge'),
        MERIDIAN_EDGE_PORT: String(edgePort),
        MERIDIAN_EDGE_CONTROL_PLANE_URL: cp.url,
        MERIDIAN_EDGE_VAR_ROUTING_REFRESH_SECONDS: '1',
        ...edgeEnv,
      },
      ready: /"msg":"edge listening","url":"([^"]+)"/,
      timeoutMs: START_TIMEOUT_MS,
    });
    started.push({ url: edge.value, stop: edge.stop, logs: edge.logs });
    const [, a, e] = started as [RunningService, RunningService, RunningService];
    return {
      dir,
      cp,
      agent: a,
      edge: e,
      restartAgent,
      stop,
      logs: () =>
        [
          ['control plane', cp],
          ['agent', a],
          ['edge', e],
        ]
          .map(([label, s]) => `--- ${label} ---\n${(s as RunningService).logs().slice(-4000)}`)
          .join('\n'),
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
