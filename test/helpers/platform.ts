import { chmod, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { REAL_MODELS } from '../../control-plane/src/onnx/test-models.js';
import { readReply, type TestReply } from '../../control-plane/testing/test-app.js';
import { type RunningAgent, startAgentProcess } from './agent-process.js';
import { freePort } from './ports.js';
import { waitUntil } from './wait.js';

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

/**
 * Uploads the PaddleOCR classifier as model `name`, deploys it under the same name (CPU, `replicas` fixed)
 * and resolves with the deployment id once the control plane says it is ready.
 */
export async function deployClassifier(
  api: ReturnType<typeof jsonApi>,
  cpUrl: string,
  token: string,
  name: string,
  replicas = 1,
): Promise<string> {
  const model = await api(token, 'POST', '/v1/models', { name });
  if (model.status !== 201) throw new Error(`creating model ${name}: ${model.status} ${model.text}`);
  const up = await fetch(`${cpUrl}/v1/models/${model.json.id}/versions?filename=cls.onnx`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
    body: await readFile(REAL_MODELS.paddleCls),
  });
  if (up.status !== 201) throw new Error(`uploading ${name}: ${up.status} ${await up.text()}`);
  const created = await api(token, 'POST', '/v1/deployments', {
    name,
    model: model.json.id,
    version: 1,
    gpuType: 'cpu',
    minReplicas: replicas,
    maxReplicas: replicas,
    deterministic: false,
  });
  if (created.status !== 201) throw new Error(`deploying ${name}: ${created.status} ${created.text}`);
  await waitUntil(
    async () => (await api(token, 'GET', `/v1/deployments/${created.json.id}`)).json.status,
    (status) => status === 'ready',
    { timeoutMs: 60_000, what: `deployment ${name} ready` },
  );
  return created.json.id as string;
}
