import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeInferRequest, INFERENCE_HEADER_CONTENT_LENGTH } from '@meridian/protocol';
import { REAL_MODELS } from '../../control-plane/src/onnx/test-models.js';
import { baseEnv, freePort, type Running, startBenchAgent, startProcess } from '../edge/processes.js';

// The platform as `npm start` runs it (control plane, one CPU agent, the edge in workerd), each a process on
// free ports in one directory, and the few API calls the cold-start and load-step benchmarks make (the load
// step adds a second agent). Defaults throughout, except the autoscaler's stable window (so a deployment
// reaches zero in seconds, not a minute).

const secret = (dir: string, file: string) => readFileSync(join(dir, file), 'utf8').trim();

export interface ColdStartPlatform {
  cpUrl: string;
  cpDataDir: string;
  edgeUrl: string;
  token: string;
  apiKey: string;
  call(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: Record<string, unknown> }>;
  /** Uploads the classifier as a new version of `modelId`; answers its version number. */
  uploadClassifier(modelId: string): Promise<number>;
  /** One classifier call through the edge; answers its status. */
  infer(name: string): Promise<number>;
  /** Starts and registers one more CPU agent; answers its id once it runs. */
  addAgent(): Promise<string>;
  stop(): Promise<void>;
}

async function request(url: string, token: string, method: string, body?: unknown) {
  const res = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    json = { text };
  }
  return { status: res.status, json };
}

async function expect201(what: string, answer: Promise<{ status: number; json: Record<string, unknown> }>) {
  const got = await answer;
  if (got.status !== 201 && got.status !== 200)
    throw new Error(`${what}: ${got.status} ${JSON.stringify(got.json).slice(0, 300)}`);
  return got.json;
}

const classifierInput = () => {
  const data = Float32Array.from({ length: 3 * 48 * 192 }, (_, i) => Math.cos(i) * 0.5);
  return encodeInferRequest({}, [
    { tensor: { name: 'x', datatype: 'FP32', shape: [1, 3, 48, 192], data }, binary: true },
  ]);
};

export async function startColdStartPlatform(dir: string): Promise<ColdStartPlatform> {
  const started: Running[] = [];
  const stop = async () => {
    for (const p of started.reverse()) await p.stop();
  };
  try {
    const cpDataDir = join(dir, 'cp');
    const cpPort = await freePort();
    const cpUrl = `http://127.0.0.1:${cpPort}`;
    started.push(
      await startProcess({
        name: 'control plane',
        command: process.execPath,
        args: ['--import', 'tsx', 'control-plane/src/main.ts'],
        env: {
          ...baseEnv(),
          MERIDIAN_DATA_DIR: cpDataDir,
          MERIDIAN_PORT: String(cpPort),
          MERIDIAN_LOG_LEVEL: 'warn',
          MERIDIAN_AUTOSCALER_STABLE_WINDOW_SECONDS: '2',
        },
        ready: async () => (await fetch(`${cpUrl}/health`)).status === 200,
        timeoutMs: 120_000,
      }),
    );
    const operator = secret(cpDataDir, 'operator-token');
    const addAgent = async () => {
      // A bootstrap token registers one agent.
      const bootstrap = await expect201(
        'bootstrap token',
        request(`${cpUrl}/internal/v1/agents/bootstrap-tokens`, operator, 'POST', { ttlSeconds: 600 }),
      );
      const n = started.filter((p) => p.name === 'agent').length;
      const agent = await startBenchAgent({
        cpUrl,
        bootstrapToken: String(bootstrap.token),
        dataDir: join(dir, n === 0 ? 'agent' : `agent-${n + 1}`),
        timeoutMs: 120_000,
      });
      started.push(agent);
      return agent.value;
    };
    await addAgent();
    const edge = await startProcess({
      name: 'edge',
      command: process.execPath,
      args: ['scripts/edge.mjs'],
      env: {
        ...baseEnv(),
        MERIDIAN_DATA_DIR: cpDataDir,
        MERIDIAN_EDGE_STATE_DIR: join(dir, 'edge'),
        MERIDIAN_EDGE_PORT: String(await freePort()),
        MERIDIAN_EDGE_CONTROL_PLANE_URL: cpUrl,
      },
      ready: /"msg":"edge listening","url":"([^"]+)"/,
      timeoutMs: 120_000,
    });
    started.push(edge);
    const owner = await expect201(
      'register',
      request(`${cpUrl}/v1/auth/register`, '', 'POST', {
        email: `bench-${Date.now()}@example.com`,
        password: 'correct horse battery',
        name: 'bench',
      }),
    );
    const token = String(owner.accessToken);
    await expect201('pro plan', request(`${cpUrl}/v1/billing/plan`, token, 'PUT', { plan: 'pro' }));
    const key = await expect201(
      'api key',
      request(`${cpUrl}/v1/api-keys`, token, 'POST', { name: 'bench', scopes: ['predict'] }),
    );
    const input = classifierInput();
    return {
      cpUrl,
      cpDataDir,
      edgeUrl: edge.value,
      token,
      apiKey: String(key.secret),
      call: (method, path, body) => request(cpUrl + path, token, method, body),
      async uploadClassifier(modelId) {
        const res = await fetch(`${cpUrl}/v1/models/${modelId}/versions?filename=cls.onnx`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
          body: readFileSync(REAL_MODELS.paddleCls),
        });
        if (res.status !== 201) throw new Error(`upload: ${res.status} ${await res.text()}`);
        return ((await res.json()) as { version: number }).version;
      },
      async infer(name) {
        const res = await fetch(`${edge.value}/v2/models/${name}/infer`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${String(key.secret)}`,
            'content-type': 'application/octet-stream',
            [INFERENCE_HEADER_CONTENT_LENGTH]: String(input.headerLength),
          },
          body: input.body,
        });
        await res.arrayBuffer();
        return res.status;
      },
      addAgent,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
