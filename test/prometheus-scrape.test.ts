import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RoutingSnapshot } from '@meridian/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REAL_MODELS } from '../control-plane/src/onnx/test-models.js';
import type { RunningAgent } from './helpers/agent-process.js';
import { SignedOipClient } from './helpers/oip-client.js';
import { jsonApi, startRegisteredAgent } from './helpers/platform.js';
import { freePort } from './helpers/ports.js';
import { type RunningControlPlane, startControlPlane } from './helpers/processes.js';

type PromResult = { metric: Record<string, string>; value: [number, string] }[];

/**
 * Debian's Prometheus scraping the control plane's /metrics and the agent's unsigned metrics listener:
 * after one signed inference, the Triton-style counters of that model are queryable in Prometheus itself.
 */
describe('Prometheus scrapes the control plane and the agent', () => {
  let dir = '';
  let cp: RunningControlPlane | undefined;
  let agent: RunningAgent | undefined;
  let prometheus: ChildProcess | undefined;
  let promUrl = '';
  let metricsPort = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'prometheus-e2e-'));
    cp = await startControlPlane({
      dataDir: join(dir, 'cp'),
      env: {
        MERIDIAN_AGENT_HEARTBEAT_SECONDS: '1',
        MERIDIAN_SCHEDULER_INTERVAL_MS: '250',
        MERIDIAN_LOG_LEVEL: 'warn',
      },
    });
    metricsPort = await freePort();
    agent = await startRegisteredAgent(cp.url, join(dir, 'cp'), join(dir, 'agent'), {
      MERIDIAN_AGENT_METRICS_LISTEN: `127.0.0.1:${metricsPort}`,
    });
    const cpPort = cp.port;
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        'scrape_configs:',
        `  - { job_name: control-plane, static_configs: [{ targets: ['127.0.0.1:${cpPort}'] }] }`,
        `  - { job_name: agent, static_configs: [{ targets: ['127.0.0.1:${metricsPort}'] }] }`,
        '',
      ].join('\n'),
    );
    const promPort = await freePort();
    promUrl = `http://127.0.0.1:${promPort}`;
    prometheus = spawn(
      '/usr/bin/prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'tsdb')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      { stdio: 'ignore' },
    );
  }, 60_000);

  afterAll(async () => {
    prometheus?.kill('SIGTERM');
    await agent?.stop();
    await cp?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const query = async (promql: string): Promise<PromResult> => {
    try {
      const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
      return ((await res.json()) as { data: { result: PromResult } }).data.result;
    } catch {
      return []; // not listening yet
    }
  };

  it('sees both targets up and the inference counters of a served model', async () => {
    const api = jsonApi(() => cp?.url ?? '');
    const reg = await api('', 'POST', '/v1/auth/register', {
      email: 'p@example.com',
      password: 'correct horse battery',
      name: 'p',
    });
    const token = reg.json.accessToken as string;
    const model = await api(token, 'POST', '/v1/models', { name: 'cls' });
    const up = await fetch(`${cp?.url}/v1/models/${model.json.id}/versions?filename=cls.onnx`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
      body: readFileSync(REAL_MODELS.paddleCls),
    });
    expect(up.status).toBe(201);
    const dep = await api(token, 'POST', '/v1/deployments', {
      name: 'cls',
      model: model.json.id,
      version: 1,
      gpuType: 'cpu',
    });
    expect(dep.status, dep.text).toBe(201);
    await expect
      .poll(async () => (await api(token, 'GET', `/v1/deployments/${dep.json.id}`)).json.status, {
        timeout: 60_000,
      })
      .toBe('ready');

    const edgeToken = (await readFile(join(dir, 'cp', 'edge-service-token'), 'utf8')).trim();
    const snapshot = RoutingSnapshot.parse(
      await (
        await fetch(`${cp?.url}/internal/v1/routing`, { headers: { authorization: `Bearer ${edgeToken}` } })
      ).json(),
    );
    const replica = snapshot.deployments[0]?.versions[0]?.replicas[0];
    const key = new TextEncoder().encode(
      (await readFile(join(dir, 'cp', 'data-plane-signing-key'), 'utf8')).trim(),
    );
    const data = Array.from({ length: 3 * 48 * 192 }, (_, i) => (i % 7) / 7);
    const infer = await new SignedOipClient(key).fetch(
      replica ?? { url: '', agentId: '' },
      dep.json.id,
      `/v2/models/${dep.json.id}/infer`,
      {
        inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, 192], data }],
      },
    );
    expect(infer.status).toBe(200);

    await expect
      .poll(
        async () =>
          (await query('up'))
            .filter((r) => r.value[1] === '1')
            .map((r) => r.metric.job)
            .sort(),
        {
          timeout: 30_000,
          interval: 500,
        },
      )
      .toEqual(['agent', 'control-plane']);
    await expect
      .poll(
        async () => {
          const [series] = await query(`nv_inference_request_success{model="${dep.json.id}"}`);
          return series?.value[1];
        },
        { timeout: 30_000, interval: 500 },
      )
      .toBe('1');
    const exec = await query(`nv_inference_exec_count{model="${dep.json.id}"}`);
    expect(Number(exec[0]?.value[1])).toBeGreaterThanOrEqual(1);
  }, 120_000);
});
