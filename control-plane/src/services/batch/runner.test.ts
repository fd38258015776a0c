import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sampleInventory } from '../../../testing/agents.js';
import { newModel, uploadVersion } from '../../../testing/models.js';
import { fakeAgent, testScheduler } from '../../../testing/scheduler.js';
import { createTestApp, readReply, type Session } from '../../../testing/test-app.js';
import { batchJobs, orgs } from '../../db/schema.js';
import { createLogger } from '../../lib/logger.js';
import { batchDepsFor } from './compose.js';
import { BatchRunner } from './runner.js';
import { validateJob } from './validate.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

const IMAGE = 'ghcr.io/acme/torch-server:2.1';
const line = (id: string, deployment = 'ocr') =>
  JSON.stringify({
    custom_id: id,
    method: 'POST',
    url: `/v2/models/${deployment}/infer`,
    body: { inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1] }] },
  });

describe('batch runner', () => {
  let t: TestApp;
  let owner: Session;
  let runner: BatchRunner | undefined;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await t.client.call(method, path, {
      token: owner.accessToken,
      ...(body === undefined ? {} : { body }),
    });
    if (res.status >= 300) throw new Error(`${method} ${path} failed: ${res.status} ${res.text}`);
    return res.json;
  };
  const deps = () => batchDepsFor({ ...t, logger: createLogger('silent') });
  /** A deployment with no replica (nothing runs it here) and a job on it, not yet validated. */
  const jobOnNewDeployment = async (name = 'ocr', gpuType: 'cpu' | 't4' = 'cpu') => {
    const deployment = await call('POST', '/v1/deployments', {
      name,
      model: 'ocr-model',
      version: 1,
      image: IMAGE,
      gpuType,
    });
    const file = await readReply(
      await t.app.request('/v1/files?filename=in.jsonl', {
        method: 'POST',
        headers: { authorization: `Bearer ${owner.accessToken}` },
        body: [line('a', name), line('b', name)].join('\n'),
      }),
    );
    const job = await call('POST', '/v1/batch-jobs', { deployment: name, inputFileId: file.json.id });
    return { deploymentId: deployment.id as string, jobId: job.id as string };
  };
  const jobRow = async (id: string) => {
    const [row] = await t.db.select().from(batchJobs).where(eq(batchJobs.id, id));
    if (!row) throw new Error('no job row');
    return row;
  };

  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('owner');
    const model = await newModel(t.app, owner.accessToken, 'ocr-model');
    await uploadVersion(t.app, owner.accessToken, model, 'net.pt', 'weights');
    await call('POST', '/v1/allowed-images', { image: IMAGE });
  });
  afterEach(async () => {
    await runner?.stop();
    runner = undefined;
  });
  afterAll(() => t.cleanup());

  it.each([
    ['validating', false],
    ['running', true],
  ])(
    'ends a %s job whose deployment was deleted as failed, saying so, instead of retrying it forever',
    async (_, validated) => {
      const { deploymentId, jobId } = await jobOnNewDeployment();
      if (validated) {
        await validateJob(deps(), await jobRow(jobId));
        expect((await jobRow(jobId)).status).toBe('running');
      }
      await call('DELETE', `/v1/deployments/${deploymentId}`);
      runner = new BatchRunner(deps(), { instanceId: 'test', intervalMs: 50 });
      runner.start();
      await expect.poll(async () => (await jobRow(jobId)).status, { timeout: 5_000 }).toBe('failed');
      expect((await jobRow(jobId)).error).toMatchObject({
        code: 'deployment_deleted',
        message: "the deployment 'ocr' was deleted",
      });
    },
  );

  it('ends a job waiting for a replica as failed once its deployment is deleted', async () => {
    const { deploymentId, jobId } = await jobOnNewDeployment();
    runner = new BatchRunner(deps(), { instanceId: 'test', intervalMs: 50 });
    runner.start();
    await expect
      .poll(async () => (await jobRow(jobId)).pausedReason, { timeout: 5_000 })
      .toBe('waiting_for_replica');
    await call('DELETE', `/v1/deployments/${deploymentId}`);
    await expect.poll(async () => (await jobRow(jobId)).status, { timeout: 5_000 }).toBe('failed');
    expect((await jobRow(jobId)).error?.code).toBe('deployment_deleted');
  });

  it('ends a job past its completion window as expired even while its org is suspended', async () => {
    const { deploymentId, jobId } = await jobOnNewDeployment();
    await validateJob(deps(), await jobRow(jobId));
    await t.db.update(orgs).set({ suspendedAt: new Date() }).where(eq(orgs.id, owner.orgId));
    try {
      await t.db
        .update(batchJobs)
        .set({ expiresAt: new Date(Date.now() + 500) })
        .where(eq(batchJobs.id, jobId));
      runner = new BatchRunner(deps(), { instanceId: 'test', intervalMs: 50 });
      runner.start();
      await expect
        .poll(async () => (await jobRow(jobId)).pausedReason, { timeout: 5_000 })
        .toBe('org_suspended');
      await expect.poll(async () => (await jobRow(jobId)).status, { timeout: 5_000 }).toBe('expired');
      expect((await jobRow(jobId)).error?.code).toBe('expired');
    } finally {
      await t.db.update(orgs).set({ suspendedAt: null }).where(eq(orgs.id, owner.orgId));
      await call('DELETE', `/v1/deployments/${deploymentId}`);
    }
  });

  describe('on a deployment that cannot start', () => {
    /** A host with no GPU, as the simulated agents are here: a T4 deployment finds no host. */
    const cpuHost = () =>
      fakeAgent(t, { inventory: { ...sampleInventory(), gpus: [] }, runtimes: ['docker', 'process'] });
    const apiJob = async (id: string) => call('GET', `/v1/batch-jobs/${id}`);
    let replica: Server | undefined;
    afterEach(async () => {
      await new Promise((r) => (replica ? replica.close(r) : r(undefined)));
      replica = undefined;
    });

    it('fails the job at once with the reason its deployment failed to start, billing nothing', async () => {
      const host = await cpuHost();
      const { deploymentId, jobId } = await jobOnNewDeployment('ocr-broken');
      const scheduler = testScheduler(t);
      try {
        await scheduler.tick();
        await host.report('failed', { reason: 'the model server exited with code 1' });
        await scheduler.tick();
        runner = new BatchRunner(deps(), { instanceId: 'test', intervalMs: 50 });
        runner.start();
        await expect.poll(async () => (await apiJob(jobId)).status, { timeout: 10_000 }).toBe('failed');
        const job = await apiJob(jobId);
        expect(job.error).toEqual({
          code: 'deployment_failed',
          message:
            "the deployment 'ocr-broken' failed to start: the model server exited with code 1; the lines answered so far are in the output file",
        });
        expect(job).toMatchObject({
          pausedReason: null,
          statusReason: null,
          counts: { total: 2, completed: 0, failed: 0 },
          costUsd: '0.000',
        });
        // Its files are written (empty: no line was answered), as for any job that ends.
        expect(job.outputFileId).toMatch(/^file_/);
      } finally {
        await call('DELETE', `/v1/deployments/${deploymentId}`);
      }
    });

    it('says why it waits on a deployment no host can place, and fails it past the bound', async () => {
      await cpuHost();
      const { deploymentId, jobId } = await jobOnNewDeployment('ocr-t4', 't4');
      const scheduler = testScheduler(t);
      try {
        await scheduler.tick();
        runner = new BatchRunner(deps(), { instanceId: 'test', intervalMs: 50, unplaceableLimitMs: 3_000 });
        runner.start();
        await expect
          .poll(async () => (await apiJob(jobId)).statusReason ?? '', { timeout: 5_000 })
          .toMatch(
            /^the deployment 'ocr-t4' cannot be placed: no online host .*T4.*; the job fails at \S+Z if no host can take it by then$/,
          );
        expect(await apiJob(jobId)).toMatchObject({ status: 'running', pausedReason: 'waiting_for_replica' });

        await expect.poll(async () => (await apiJob(jobId)).status, { timeout: 10_000 }).toBe('failed');
        const job = await apiJob(jobId);
        expect(job.error.code).toBe('deployment_unplaceable');
        expect(job.error.message).toMatch(
          /^no host could run the deployment 'ocr-t4' for 3 seconds: no online host .*T4.*; the lines answered so far are in the output file$/,
        );
        expect(job).toMatchObject({ statusReason: null, costUsd: '0.000' });
      } finally {
        await call('DELETE', `/v1/deployments/${deploymentId}`);
      }
    });

    it('goes on once a host can take the deployment it waited on', async () => {
      // The T4 host that joins is simulated (no NVIDIA GPU here), and so is its replica: it answers every line.
      replica = createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ outputs: [{ name: 'y', datatype: 'FP32', shape: [1], data: [2] }] }));
        });
      });
      await new Promise<void>((r) => replica?.listen(0, '127.0.0.1', r));
      const url = `http://127.0.0.1:${(replica.address() as AddressInfo).port}`;
      await cpuHost();
      const { deploymentId, jobId } = await jobOnNewDeployment('ocr-late', 't4');
      const scheduler = testScheduler(t);
      try {
        await scheduler.tick();
        runner = new BatchRunner(deps(), { instanceId: 'test', intervalMs: 50, unplaceableLimitMs: 60_000 });
        runner.start();
        await expect
          .poll(async () => (await apiJob(jobId)).statusReason ?? '', { timeout: 5_000 })
          .toContain("the deployment 'ocr-late' cannot be placed");

        const gpuHost = await fakeAgent(t, { runtimes: ['docker'], url });
        await scheduler.tick();
        await gpuHost.report('ready');
        await scheduler.tick();
        await expect.poll(async () => (await apiJob(jobId)).status, { timeout: 10_000 }).toBe('completed');
        expect(await apiJob(jobId)).toMatchObject({
          error: null,
          statusReason: null,
          counts: { total: 2, completed: 2, failed: 0 },
        });
      } finally {
        await call('DELETE', `/v1/deployments/${deploymentId}`);
      }
    });
  });
});
