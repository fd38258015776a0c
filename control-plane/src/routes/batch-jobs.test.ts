import { Readable } from 'node:stream';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newModel, uploadVersion } from '../../testing/models.js';
import { createTestApp, readReply, type Session } from '../../testing/test-app.js';
import { batchJobs } from '../db/schema.js';
import { registerJobFile } from '../services/files/files.js';
import { fileObjectKey, newFileId } from '../services/files/ids.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

const IMAGE = 'ghcr.io/acme/torch-server:2.1';

// No runner is started here (createTestApp passes none), so a job stays `validating` until cancelled.
describe('batch jobs', () => {
  let t: TestApp;
  let owner: Session;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await t.client.call(method, path, {
      token: owner.accessToken,
      ...(body === undefined ? {} : { body }),
    });
    if (res.status >= 300) throw new Error(`${method} ${path} failed: ${res.status} ${res.text}`);
    return res.json;
  };

  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('owner');
    const model = await newModel(t.app, owner.accessToken, 'ocr-model');
    await uploadVersion(t.app, owner.accessToken, model, 'net.pt', 'weights');
    await call('POST', '/v1/allowed-images', { image: IMAGE });
    await call('POST', '/v1/deployments', { name: 'ocr', model, version: 1, image: IMAGE, gpuType: 'cpu' });
    await call('POST', '/v1/deployments', { name: 'other', model, version: 1, image: IMAGE, gpuType: 'cpu' });
  });
  afterAll(() => t.cleanup());

  it('names a job in the audit log by its deployment and input file, created and cancelled', async () => {
    const file = await readReply(
      await t.app.request('/v1/files?filename=inputs.jsonl&purpose=batch', {
        method: 'POST',
        headers: { authorization: `Bearer ${owner.accessToken}`, 'content-type': 'application/octet-stream' },
        body: '{"custom_id":"a","method":"POST","url":"/v1/deployments/ocr/predict","body":{"inputs":{}}}\n',
      }),
    );
    expect(file.status, file.text).toBe(201);
    const job = await call('POST', '/v1/batch-jobs', { deployment: 'ocr', inputFileId: file.json.id });
    await call('POST', `/v1/batch-jobs/${job.id}/cancel`);
    for (const action of ['batch_job.create', 'batch_job.cancel']) {
      expect(await t.client.auditNames(owner.accessToken, action, job.id)).toEqual(['ocr on inputs.jsonl']);
    }
  });

  it('refuses to cancel a job that is writing its files, saying so, and audits no cancel', async () => {
    const file = await readReply(
      await t.app.request('/v1/files?filename=done.jsonl', {
        method: 'POST',
        headers: { authorization: `Bearer ${owner.accessToken}` },
        body: '{"custom_id":"a","method":"POST","url":"/v1/deployments/ocr/predict","body":{"inputs":{}}}\n',
      }),
    );
    const job = await call('POST', '/v1/batch-jobs', { deployment: 'ocr', inputFileId: file.json.id });
    // Where the runner puts a job once every line is answered.
    await t.db.update(batchJobs).set({ status: 'finalizing' }).where(eq(batchJobs.id, job.id));
    const res = await t.client.call('POST', `/v1/batch-jobs/${job.id}/cancel`, { token: owner.accessToken });
    expect(res.status).toBe(409);
    expect(res.json.error.message).toMatch(/answered every line .*\(finalizing\): nothing is left to cancel/);
    expect(await t.client.auditNames(owner.accessToken, 'batch_job.cancel', job.id)).toEqual([]);
    expect((await call('GET', `/v1/batch-jobs/${job.id}`)).status).toBe('finalizing');
  });

  it('shows a key limited to one deployment only the jobs on that deployment, and lets it cancel no other', async () => {
    const file = await readReply(
      await t.app.request('/v1/files?filename=in.jsonl', {
        method: 'POST',
        headers: { authorization: `Bearer ${owner.accessToken}` },
        body: '{"custom_id":"a","method":"POST","url":"/v1/deployments/x/predict","body":{"inputs":{}}}\n',
      }),
    );
    const mine = await call('POST', '/v1/batch-jobs', { deployment: 'ocr', inputFileId: file.json.id });
    const theirs = await call('POST', '/v1/batch-jobs', { deployment: 'other', inputFileId: file.json.id });
    const key = (await t.client.createKey(owner, { scopes: ['predict:ocr'] })).secret;
    const as = (method: string, path: string) => t.client.call(method, path, { token: key });
    expect((await as('GET', `/v1/batch-jobs/${mine.id}`)).status).toBe(200);
    for (const [method, path] of [
      ['GET', `/v1/batch-jobs/${theirs.id}`],
      ['POST', `/v1/batch-jobs/${theirs.id}/cancel`],
      ['GET', `/v1/batch-jobs/${theirs.id}/download-urls`],
    ] as const)
      expect((await as(method, path)).status, `${method} ${path}`).toBe(404);
    const listed = await as('GET', '/v1/batch-jobs');
    expect(listed.json.items.map((j: { deployment: { name: string } }) => j.deployment.name)).not.toContain(
      'other',
    );
    expect(listed.json.items.map((j: { id: string }) => j.id)).toContain(mine.id);
    // The owner still sees both, and the other job was not cancelled.
    expect((await call('GET', `/v1/batch-jobs/${theirs.id}`)).status).toBe('validating');
  });

  it('keeps the output files of jobs on other deployments from a key limited to one', async () => {
    const file = await readReply(
      await t.app.request('/v1/files?filename=in.jsonl', {
        method: 'POST',
        headers: { authorization: `Bearer ${owner.accessToken}` },
        body: '{"custom_id":"a","method":"POST","url":"/v1/deployments/x/predict","body":{"inputs":{}}}\n',
      }),
    );
    const theirs = await call('POST', '/v1/batch-jobs', { deployment: 'other', inputFileId: file.json.id });
    // The output file a finished job registers (written here as finalizeJob writes it).
    const outputId = newFileId();
    await t.objectStore.put(fileObjectKey(owner.orgId, outputId), Readable.from(['{"custom_id":"a"}\n']));
    await registerJobFile(
      { db: t.db, retentionSeconds: 3600 },
      {
        id: outputId,
        orgId: owner.orgId,
        purpose: 'batch_output',
        fileName: `${theirs.id}-output.jsonl`,
        objectKey: fileObjectKey(owner.orgId, outputId),
        sizeBytes: 18,
        createdBy: theirs.id,
      },
    );
    const key = (await t.client.createKey(owner, { scopes: ['predict:ocr'] })).secret;
    const as = (path: string) => t.client.call('GET', path, { token: key });
    for (const path of [
      `/v1/files/${outputId}`,
      `/v1/files/${outputId}/content`,
      `/v1/files/${outputId}/download-url`,
    ])
      expect((await as(path)).status, path).toBe(404);
    const listed = (await as('/v1/files')).json.items.map((f: { id: string }) => f.id);
    expect(listed).toContain(file.json.id);
    expect(listed).not.toContain(outputId);
    // The owner reads it.
    expect((await t.client.call('GET', `/v1/files/${outputId}`, { token: owner.accessToken })).status).toBe(
      200,
    );
  });
});
