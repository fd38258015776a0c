import { chmod, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { readReply, type TestReply } from '../../control-plane/src/testing/test-app.js';
import { type RunningAgent, startAgentProcess } from './agent-process.js';
import { freePort } from './ports.js';

/** A JSON client for the control plane at `baseUrl()` (a function: the URL can change across restarts). */
export function jsonApi(baseUrl: () => string) {
  return async (token: string, method: string, path: string, body?: unknown): Promise<TestReply> =>
    readReply(
      await fetch(baseUrl() + path, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      }),
    );
}

/** A one-time bootstrap token, issued with the operator token the control plane wrote into its data dir. */
export async function issueBootstrapToken(cpUrl: string, cpDataDir: string): Promise<string> {
  const operatorToken = (await readFile(join(cpDataDir, 'operator-token'), 'utf8')).trim();
  const res = await fetch(`${cpUrl}/internal/v1/agents/bootstrap-tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${operatorToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ttlSeconds: 600 }),
  });
  if (res.status !== 201) throw new Error(`issuing a bootstrap token answered ${res.status}`);
  return ((await res.json()) as { token: string }).token;
}

/** A CPU-only agent process registered with the control plane, on a free port, its state in `dataDir`. */
export async function startRegisteredAgent(
  cpUrl: string,
  cpDataDir: string,
  dataDir: string,
  extraEnv: Record<string, string> = {},
): Promise<RunningAgent> {
  // Workload users pass through the folder above the agent's (a mkdtemp folder, 0700) to reach their own
  // volumes in `workloads/` beside it (docs/adr/0005-agent-directory-layout.md).
  await chmod(dirname(dataDir), 0o711);
  return startAgentProcess({
    ...extraEnv,
    MERIDIAN_AGENT_CONTROL_PLANE_URL: cpUrl,
    MERIDIAN_AGENT_BOOTSTRAP_TOKEN: await issueBootstrapToken(cpUrl, cpDataDir),
    MERIDIAN_AGENT_DATA_DIR: dataDir,
    MERIDIAN_AGENT_LISTEN_PORT: String(await freePort()),
    // No NVIDIA driver here: a missing binary makes the CPU-only inventory certain on any host.
    MERIDIAN_AGENT_NVIDIA_SMI: join(dataDir, 'no-nvidia-smi'),
    // The process runtime starts jupyter-server, whose kernels need a PATH.
    PATH: process.env.PATH ?? '/usr/bin:/bin',
  });
}
