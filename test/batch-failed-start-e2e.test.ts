import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { REAL_MODELS } from '../control-plane/src/onnx/test-models.js';
import { deploy, uploadModel } from './helpers/autoscaling.js';
import { batchLines } from './helpers/batch-lines.js';
import { buildCli, type CliResult } from './helpers/cli.js';
import { jsonApi } from './helpers/platform.js';
import { type Stack, startStack } from './helpers/stack.js';
import { waitUntil } from './helpers/wait.js';

type Job = {
  id: string;
  status: string;
  pausedReason: string | null;
  statusReason: string | null;
  error: { code: string; message: string } | null;
  counts: { total: number; completed: number; failed: number };
  costUsd: string;
};

/**
 * Batch jobs on deployments that cannot start, through the real platform (control plane, a CPU agent, the
 * edge): the agent's model cache (a 64 KiB disk budget) cannot take the classifier, so its replica fails to
 * load it there, as in scale-to-zero-failed-start-e2e; and no host of this stack has a T4. The job says why
 * within seconds instead of waiting out its completion window in silence.
 */
describe('a batch job on a deployment that cannot start', () => {
  let stack: Stack;
  let token = '';
  let modelId = '';
  let home = '';
  let cli: Awaited<ReturnType<typeof buildCli>>;
  const api = jsonApi(() => stack.cp.url);

  const jobOn = async (deployment: string) => {
    const upload = await fetch(`${stack.cp.url}/v1/files?filename=in.jsonl&purpose=batch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
      body: batchLines(deployment, 3).text,
    });
    expect(upload.status).toBe(201);
    const fileId = ((await upload.json()) as { id: string }).id;
    const created = await api(token, 'POST', '/v1/batch-jobs', { deployment, inputFileId: fileId });
    expect(created.status, created.text).toBe(201);
    return created.json.id as string;
  };
  const job = async (id: string) => (await api(token, 'GET', `/v1/batch-jobs/${id}`)).json as Job;
  const ok = (r: CliResult) => {
    expect(r.code, `exit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`).toBe(0);
    return r.stdout;
  };

  beforeAll(async () => {
    stack = await startStack(
      'batch-failed-start-e2e',
      {},
      {},
      { MERIDIAN_AGENT_DISK_BUDGET_BYTES: String(64 * 1024) },
    );
    const owner = await api('', 'POST', '/v1/auth/register', {
      email: `batch-failed-start-${Date.now()}@example.com`,
      password: 'correct horse battery',
      name: 'owner',
    });
    token = owner.json.accessToken;
    modelId = await uploadModel(api, stack.cp.url, token, 'cls', REAL_MODELS.paddleCls);
    home = await mkdtemp(join(tmpdir(), 'batch-failed-start-cli-'));
    cli = await buildCli(() => ({
      HOME: home,
      MERIDIAN_CONFIG_DIR: join(home, 'config'),
      MERIDIAN_API_URL: stack.cp.url,
      MERIDIAN_TOKEN: token,
    }));
  }, 240_000);

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') console.error(stack.logs());
  });

  afterAll(async () => {
    await cli?.remove();
    await stack?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it('fails within seconds with why its deployment failed to start, billing no line', async () => {
    const deploymentId = await deploy(api, token, 'cls', modelId, { minReplicas: 1, maxReplicas: 1 });
    onTestFinished(async () => void (await api(token, 'DELETE', `/v1/deployments/${deploymentId}`)));
    const id = await jobOn('cls');
    const started = performance.now();
    const failed = await waitUntil(
      () => job(id),
      (j) => !['validating', 'running', 'finalizing'].includes(j.status),
      { timeoutMs: 60_000, intervalMs: 250, what: 'the job ended' },
    );
    console.info(
      `the job failed ${((performance.now() - started) / 1000).toFixed(1)} s after it was created`,
    );

    expect(failed.status).toBe('failed');
    expect(failed.error?.code).toBe('deployment_failed');
    expect(failed.error?.message).toMatch(
      /^the deployment 'cls' failed to start: .+; the lines answered so far are in the output file$/,
    );
    expect(failed.error?.message).not.toMatch(/\bwl_|\bagt_/);
    expect(failed).toMatchObject({
      counts: { total: 3, completed: 0 },
      costUsd: '0.000',
      statusReason: null,
    });
    const usage = await api(token, 'GET', '/v1/billing/usage?groupBy=deployment');
    const calls = (usage.json.lines as { meter: string; rawQuantity: number }[])
      .filter((l) => l.meter === 'inference_calls')
      .reduce((n, l) => n + l.rawQuantity, 0);
    expect(calls).toBe(0);

    // The deployment carries the same problem as data, and `deployments get` prints it.
    const deployment = (await api(token, 'GET', `/v1/deployments/${deploymentId}`)).json;
    expect(deployment.startProblem).toMatchObject({ kind: 'failed' });
    expect(failed.error?.message).toContain(deployment.startProblem.message);
    expect(ok(await cli.run(['deployments', 'get', 'cls']))).toMatch(
      /cannot start\s+its last start failed: /,
    );
    expect(ok(await cli.run(['batch', 'get', id]))).toContain(
      `deployment_failed: the deployment 'cls' failed to start: `,
    );
  }, 180_000);

  it('says within seconds that no host can place its deployment, and `batch get` prints it', async () => {
    const deploymentId = await deploy(api, token, 'cls-t4', modelId, { gpuType: 't4' });
    onTestFinished(async () => void (await api(token, 'DELETE', `/v1/deployments/${deploymentId}`)));
    const id = await jobOn('cls-t4');
    const waiting = await waitUntil(
      () => job(id),
      (j) => j.statusReason?.includes('cannot be placed') ?? false,
      { timeoutMs: 30_000, intervalMs: 250, what: 'the job says why it waits' },
    );
    expect(waiting).toMatchObject({ status: 'running', pausedReason: 'waiting_for_replica' });
    expect(waiting.statusReason).toMatch(
      /^the deployment 'cls-t4' cannot be placed: no online host .*T4.*; the job fails at \S+Z if no host can take it by then$/,
    );
    // 15 minutes from when it first found the deployment unplaceable, not from the job's creation or its window.
    const failAt = Date.parse(/fails at (\S+Z)/.exec(waiting.statusReason ?? '')?.[1] ?? '');
    expect(failAt - Date.now()).toBeGreaterThan(14 * 60_000);
    expect(failAt - Date.now()).toBeLessThanOrEqual(15 * 60_000);
    expect(ok(await cli.run(['batch', 'get', id]))).toContain(`\n  ${waiting.statusReason}`);
    expect((await api(token, 'POST', `/v1/batch-jobs/${id}/cancel`)).status).toBe(200);
  }, 120_000);
});
