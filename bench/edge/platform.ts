import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REAL_MODELS } from '../../control-plane/src/onnx/test-models.js';
import { baseEnv, freePort, type Running, startBenchAgent, startProcess } from './processes.js';

/** The real control plane and one real agent as processes, as the e2e tests run them. */
export interface Platform {
  cpUrl: string;
  cpDataDir: string;
  controlPlane: Running;
  agent: Running;
  /** The secrets the control plane wrote into its data dir, which the edge is given. */
  edgeServiceToken: string;
  dataPlaneSigningKey: string;
  stop(): Promise<void>;
}

const secret = (dir: string, file: string) => readFileSync(join(dir, file), 'utf8').trim();

async function call(
  url: string,
  token: string,
  method: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { text };
  }
  return { status: res.status, json };
}

async function expectStatus(
  what: string,
  status: number,
  answer: Promise<{ status: number; json: unknown }>,
) {
  const got = await answer;
  if (got.status !== status)
    throw new Error(`${what}: answered ${got.status} ${JSON.stringify(got.json).slice(0, 500)}`);
  return got.json as Record<string, unknown>;
}

export async function startPlatform(dir: string): Promise<Platform> {
  const cpDataDir = join(dir, 'cp');
  const cpPort = await freePort();
  const cpUrl = `http://127.0.0.1:${cpPort}`;
  const controlPlane = await startProcess({
    name: 'control plane',
    command: process.execPath,
    args: ['--import', 'tsx', 'control-plane/src/main.ts'],
    env: {
      ...baseEnv(),
      MERIDIAN_DATA_DIR: cpDataDir,
      MERIDIAN_PORT: String(cpPort),
      MERIDIAN_LOG_LEVEL: 'warn',
    },
    ready: async () => (await fetch(`${cpUrl}/health`)).status === 200,
  });
  const operatorToken = secret(cpDataDir, 'operator-token');
  const bootstrap = await expectStatus(
    'issuing a bootstrap token',
    201,
    call(`${cpUrl}/internal/v1/agents/bootstrap-tokens`, operatorToken, 'POST', { ttlSeconds: 600 }),
  );
  const agentDir = join(dir, 'agent');
  const agent = await startBenchAgent({
    cpUrl,
    bootstrapToken: String(bootstrap.token),
    dataDir: agentDir,
    timeoutMs: 30_000,
  });
  return {
    cpUrl,
    cpDataDir,
    controlPlane,
    agent,
    edgeServiceToken: secret(cpDataDir, 'edge-service-token'),
    dataPlaneSigningKey: secret(cpDataDir, 'data-plane-signing-key'),
    stop: async () => {
      await agent.stop();
      await controlPlane.stop();
    },
  };
}

/** A tenant: a user whose org is moved to Enterprise (no monthly quota), with one API key for predictions. */
export async function createTenant(
  platform: Platform,
  rateLimits: { name: string; limit: number; periodSeconds: number }[],
): Promise<{ token: string; orgId: string; apiKey: string; keyId: string }> {
  const { cpUrl } = platform;
  const registered = await expectStatus(
    'registering a user',
    201,
    call(`${cpUrl}/v1/auth/register`, '', 'POST', {
      email: `bench-${Date.now()}@example.com`,
      password: 'correct horse battery',
      name: 'bench',
    }),
  );
  const token = String(registered.accessToken);
  const orgId = String((registered.org as { id: string }).id);
  await expectStatus(
    'moving the org to Enterprise',
    200,
    call(`${cpUrl}/internal/v1/orgs/${orgId}/standing`, secret(platform.cpDataDir, 'operator-token'), 'PUT', {
      plan: 'enterprise',
    }),
  );
  const key = await expectStatus(
    'creating an API key',
    201,
    call(`${cpUrl}/v1/api-keys`, token, 'POST', { name: 'bench', scopes: ['predict'], rateLimits }),
  );
  return { token, orgId, apiKey: String(key.secret), keyId: String(key.id) };
}

/** Uploads the PaddleOCR classifier as model `name`, deploys it on one CPU replica, waits until it is ready. */
export async function deployClassifier(platform: Platform, token: string, name: string): Promise<string> {
  const { cpUrl } = platform;
  const model = await expectStatus(
    'creating a model',
    201,
    call(`${cpUrl}/v1/models`, token, 'POST', { name }),
  );
  const upload = await fetch(`${cpUrl}/v1/models/${String(model.id)}/versions?filename=cls.onnx`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
    body: readFileSync(REAL_MODELS.paddleCls),
  });
  if (upload.status !== 201)
    throw new Error(`uploading the model answered ${upload.status}: ${await upload.text()}`);
  const deployment = await expectStatus(
    'creating a deployment',
    201,
    call(`${cpUrl}/v1/deployments`, token, 'POST', {
      name,
      model: model.id,
      version: 1,
      gpuType: 'cpu',
      minReplicas: 1,
      maxReplicas: 1,
      deterministic: false,
    }),
  );
  const id = String(deployment.id);
  const deadline = Date.now() + 90_000;
  for (;;) {
    const got = await call(`${cpUrl}/v1/deployments/${id}`, token, 'GET');
    if (got.json.status === 'ready') return id;
    if (Date.now() > deadline) throw new Error(`deployment ${name} not ready: ${JSON.stringify(got.json)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The routing snapshot as the control plane serves it to edges. */
export async function routingSnapshot(platform: Platform): Promise<{
  deployments: {
    deploymentId: string;
    name: string;
    versions: {
      versionId: string;
      version: number;
      replicas: { url: string; agentId: string; keyGeneration?: number }[];
    }[];
  }[];
}> {
  const res = await fetch(`${platform.cpUrl}/internal/v1/routing`, {
    headers: { authorization: `Bearer ${platform.edgeServiceToken}` },
  });
  if (res.status !== 200) throw new Error(`GET /internal/v1/routing answered ${res.status}`);
  return (await res.json()) as Awaited<ReturnType<typeof routingSnapshot>>;
}
