import { eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { newModel, uploadVersion } from '../../../testing/models.js';
import { createTestApp, readReply, type Session } from '../../../testing/test-app.js';
import { batchJobs, orgs } from '../../db/schema.js';
import { createLogger } from '../../lib/logger.js';
import { batchDepsFor } from './compose.js';
import { BatchRunner } from './runner.js';
import { validateJob } from './validate.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

const IMAGE = 'ghcr.io/acme/torch-server:2.1';
const line = (id: string) =>
  JSON.stringify({
    custom_id: id,
    method: 'POST',
    url: '/v2/models/ocr/infer',
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
  const jobOnNewDeployment = async () => {
    const deployment = await call('POST', '/v1/deployments', {
      name: 'ocr',
      model: 'ocr-model',
      version: 1,
      image: IMAGE,
      gpuType: 'cpu',
    });
    const file = await readReply(
      await t.app.request('/v1/files?filename=in.jsonl', {
        method: 'POST',
        headers: { authorization: `Bearer ${owner.accessToken}` },
        body: [line('a'), line('b')].join('\n'),
      }),
    );
    const job = await call('POST', '/v1/batch-jobs', { deployment: 'ocr', inputFileId: file.json.id });
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
});
