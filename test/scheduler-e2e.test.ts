import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RoutedReplica, RoutingSnapshot } from '@meridian/protocol';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REAL_MODELS } from '../control-plane/src/onnx/test-models.js';
import type { RunningAgent } from './helpers/agent-process.js';
import { SignedOipClient } from './helpers/oip-client.js';
import { jsonApi, startRegisteredAgent } from './helpers/platform.js';
import { type RunningControlPlane, startControlPlane } from './helpers/processes.js';
import { type RunningS3, startS3 } from './helpers/s3-server.js';

const HEARTBEAT_TIMEOUT_S = 4;
const INPUT_SHAPE = [1, 3, 48, 192];

/**
 * The scheduler end to end: a control plane process on a real S3 server (Swift) and two real agents as
 * processes, serving the real PaddleOCR classifier. Every step goes through the public API, the agents'
 * signed data plane and the edge's routing pull, as in production.
 */
describe('deployments scheduled onto two agents', () => {
  let dir = '';
  let s3: RunningS3 | undefined;
  let cp: RunningControlPlane | undefined;
  const agents: RunningAgent[] = [];
  let token = '';
  let edgeToken = '';
  let oip: SignedOipClient;
  let deploymentId = '';
  let session: ort.InferenceSession;
  const input = Float32Array.from({ length: 3 * 48 * 192 }, (_, i) => Math.sin(i) * 0.5);

  const url = () => cp?.url ?? '';
  const call = jsonApi(url);
  const api = (method: string, path: string, body?: unknown) => call(token, method, path, body);
  const routing = async () => {
    const res = await fetch(`${url()}/internal/v1/routing`, {
      headers: { authorization: `Bearer ${edgeToken}` },
    });
    return RoutingSnapshot.parse(await res.json());
  };
  const replicasOf = async () => (await routing()).deployments.find((d) => d.deploymentId === deploymentId);
  const infer = (replica: RoutedReplica, versionId?: string) =>
    oip.fetch(
      replica,
      deploymentId,
      `/v2/models/${deploymentId}${versionId ? `/versions/${versionId}` : ''}/infer`,
      {
        inputs: [{ name: 'x', datatype: 'FP32', shape: INPUT_SHAPE, data: [...input] }],
      },
    );

  async function startAgent(name: string): Promise<RunningAgent> {
    const agent = await startRegisteredAgent(url(), join(dir, 'cp'), join(dir, name));
    agents.push(agent);
    return agent;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'scheduler-e2e-'));
    s3 = await startS3();
    cp = await startControlPlane({
      dataDir: join(dir, 'cp'),
      env: {
        ...s3.env,
        MERIDIAN_AGENT_HEARTBEAT_SECONDS: '1',
        MERIDIAN_AGENT_HEARTBEAT_TIMEOUT_SECONDS: String(HEARTBEAT_TIMEOUT_S),
        MERIDIAN_SCHEDULER_INTERVAL_MS: '250',
        MERIDIAN_ROLLOUT_RETIRE_SECONDS: '2',
        MERIDIAN_LOG_LEVEL: 'warn',
      },
    });
    edgeToken = (await readFile(join(dir, 'cp', 'edge-service-token'), 'utf8')).trim();
    oip = new SignedOipClient(
      new TextEncoder().encode((await readFile(join(dir, 'cp', 'data-plane-signing-key'), 'utf8')).trim()),
    );
    const reg = await api('POST', '/v1/auth/register', {
      email: 'e2e@example.com',
      password: 'correct horse battery',
      name: 'e2e',
    });
    token = reg.json.accessToken;
    await startAgent('agent-a');
    await startAgent('agent-b');
    session = await ort.InferenceSession.create(REAL_MODELS.paddleCls);
  }, 240_000);

  afterAll(async () => {
    for (const agent of agents) await agent.stop();
    await cp?.stop();
    await s3?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('deploys two replicas on different agents whose outputs equal a direct onnxruntime session', async () => {
    const model = await api('POST', '/v1/models', { name: 'ocr-cls' });
    expect(model.status).toBe(201);
    for (let i = 0; i < 2; i++) {
      const up = await fetch(`${url()}/v1/models/${model.json.id}/versions?filename=cls.onnx`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
        body: readFileSync(REAL_MODELS.paddleCls),
      });
      expect(up.status).toBe(201);
    }
    const created = await api('POST', '/v1/deployments', {
      name: 'ocr-cls',
      model: model.json.id,
      version: 1,
      gpuType: 'cpu',
      minReplicas: 2,
      maxReplicas: 2,
    });
    expect(created.status, created.text).toBe(201);
    deploymentId = created.json.id;
    await expect
      .poll(async () => (await api('GET', `/v1/deployments/${deploymentId}`)).json.status, {
        timeout: 60_000,
        interval: 250,
      })
      .toBe('ready');

    const routed = await replicasOf();
    const replicas = routed?.versions[0]?.replicas ?? [];
    expect(new Set(replicas.map((r) => r.agentId)).size).toBe(2);
    const expected = await session.run({ x: new ort.Tensor('float32', input, INPUT_SHAPE) });
    const want = [...((expected[session.outputNames[0] as string] as ort.Tensor).data as Float32Array)];
    for (const replica of replicas) {
      const res = await infer(replica);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { outputs: { data: number[] }[] };
      const got = body.outputs[0]?.data ?? [];
      expect(got).toHaveLength(want.length);
      for (const [i, v] of got.entries()) expect(v).toBeCloseTo(want[i] as number, 5);
    }
  }, 90_000);

  it('after kill -9 of one agent, its replica runs on the other within the heartbeat timeout plus 5 s', async () => {
    const routed = await replicasOf();
    const victimId = routed?.versions[0]?.replicas[0]?.agentId;
    const victim = agents.find((a) => a.agentId === victimId);
    const survivor = agents.find((a) => a.agentId !== victimId);
    if (!victim || !survivor) throw new Error('no replica to kill');
    const killedAt = Date.now();
    expect((await victim.kill()).signal).toBe('SIGKILL');

    await expect
      .poll(
        async () => {
          const replicas = (await replicasOf())?.versions.flatMap((v) => v.replicas) ?? [];
          return replicas.length === 2 && replicas.every((r) => r.agentId === survivor.agentId);
        },
        { timeout: (HEARTBEAT_TIMEOUT_S + 5) * 1000, interval: 200 },
      )
      .toBe(true);
    const movedInMs = Date.now() - killedAt;
    console.info(
      `replica moved to the surviving agent ${movedInMs} ms after kill -9 (bound ${(HEARTBEAT_TIMEOUT_S + 5) * 1000} ms)`,
    );
    const events = await api('GET', `/v1/deployments/${deploymentId}/events?limit=100`);
    expect(JSON.stringify(events.json)).toContain('lost with agent');
    const replica = (await replicasOf())?.versions[0]?.replicas[0];
    expect(replica ? (await infer(replica)).status : 0).toBe(200);
  }, 30_000);

  it('rolls to a second version under a steady stream of calls without losing one', async () => {
    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    let snapshot = await replicasOf();
    const refresher = (async () => {
      while (!stop) {
        snapshot = await replicasOf();
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const caller = (async () => {
      let i = 0;
      while (!stop) {
        // Like the edge: a ready replica from the latest snapshot, chosen by weight, addressed by version.
        const versions = snapshot?.versions.filter((v) => v.weight > 0 && v.replicas.length > 0) ?? [];
        const version = versions[i % Math.max(1, versions.length)];
        const replica = version?.replicas[i % Math.max(1, version.replicas.length)];
        i += 1;
        if (!version || !replica) {
          failures.push('no ready replica in the snapshot');
          continue;
        }
        const res = await infer(replica, version.versionId);
        if (res.status === 200) ok += 1;
        else failures.push(`${res.status} ${await res.text()}`);
      }
    })();
    await new Promise((r) => setTimeout(r, 500));
    const versions = await api(
      'GET',
      `/v1/models/${(await api('GET', `/v1/deployments/${deploymentId}`)).json.modelId}/versions`,
    );
    const second = versions.json.items.find((v: { version: number }) => v.version === 2);
    const patched = await api('PATCH', `/v1/deployments/${deploymentId}`, { version: 2 });
    expect(patched.status, patched.text).toBe(200);
    await expect
      .poll(
        async () => {
          const [only, ...others] = (await replicasOf())?.versions ?? [];
          return (
            others.length === 0 &&
            only !== undefined &&
            only.versionId === second.id &&
            only.replicas.length === 2
          );
        },
        { timeout: 60_000, interval: 200 },
      )
      .toBe(true);
    // Past the retire grace, the old replicas are gone from the agent too; keep calling through it.
    await new Promise((r) => setTimeout(r, 3_000));
    stop = true;
    await Promise.all([caller, refresher]);
    console.info(`rolling update: ${ok} calls succeeded, ${failures.length} failed`);
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(20);
  }, 90_000);
});
