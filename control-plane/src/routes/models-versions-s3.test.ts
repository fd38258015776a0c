import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatedStream, newModel, storedKeys, uploadVersion } from '../../testing/models.js';
import { createTestApp, type Session } from '../../testing/test-app.js';
import { REAL_MODELS } from '../onnx/test-models.js';
import { S3ObjectStore } from '../storage/s3-store.js';

const run = promisify(execFile);
const script = resolve(import.meta.dirname, '../../../scripts/s3-server.sh');
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const SILERO = readFileSync(REAL_MODELS.sileroVad);
const MiB = 1024 * 1024;
const LIMIT = 24 * MiB;

/** The registry against a real S3 server (Swift s3api): presigned S3 URLs instead of the control plane's own. */
describe('model versions on S3', () => {
  let stateDir = '';
  let store: S3ObjectStore;
  let t: Awaited<ReturnType<typeof createTestApp>>;
  let owner: Session;
  const call = (method: string, path: string, body?: unknown) =>
    t.client.call(method, path, { token: owner.accessToken, ...(body === undefined ? {} : { body }) });

  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'meridian-models-s3-'));
    // Swift starts in 20–35 s on CI's two cores beside the other test run; a busier machine took over 60 s.
    const { stdout } = await run(script, ['start', stateDir, 'auto'], { timeout: 120_000 });
    const endpoint = /S3_ENDPOINT=(\S+)/.exec(stdout)?.[1];
    if (!endpoint) throw new Error(`s3-server.sh printed no endpoint: ${stdout}`);
    store = new S3ObjectStore({
      endpoint,
      region: 'us-east-1',
      bucket: `models-${randomBytes(4).toString('hex')}`,
      credentials: { accessKeyId: 'test:tester', secretAccessKey: 'testing' },
      forcePathStyle: true,
    });
    await store.ensureBucket();
    t = await createTestApp({ objectStore: store, maxModelBytes: LIMIT });
    owner = await t.client.register('owner');
  }, 120_000);
  afterAll(async () => {
    t?.cleanup();
    store?.close();
    if (stateDir) {
      await run(script, ['stop', stateDir]);
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('streams an ONNX upload into S3 and signs an S3 GET that returns the exact bytes', async () => {
    const modelId = await newModel(t.app, owner.accessToken);
    const res = await uploadVersion(t.app, owner.accessToken, modelId, 'vad.onnx', SILERO);
    expect(res.status, res.text).toBe(201);
    expect(res.json).toMatchObject({ sha256: sha256(SILERO), signature: { opset: 16 } });
    const signed = await call('GET', `/v1/models/${modelId}/versions/latest/download-url`);
    expect(signed.json.url).toContain('X-Amz-Signature=');
    const body = new Uint8Array(await (await fetch(signed.json.url)).arrayBuffer());
    expect(sha256(body)).toBe(signed.json.sha256);
  });

  it('leaves nothing in the bucket after a 422 or a 413', async () => {
    const modelId = await newModel(t.app, owner.accessToken);
    const broken = await uploadVersion(t.app, owner.accessToken, modelId, 'x.onnx', SILERO.subarray(0, 5000));
    expect(broken.status).toBe(422);
    const big = await uploadVersion(t.app, owner.accessToken, modelId, 'x.pt', generatedStream(LIMIT + MiB));
    expect(big.status).toBe(413);
    expect(await storedKeys(store, `orgs/${owner.orgId}/models/${modelId}/`)).toEqual([]);
  });

  it("gives a refused upload's number to the next accepted one, and never a number a ready version had", async () => {
    const token = owner.accessToken;
    const modelId = await newModel(t.app, token);
    const modelName = (await call('GET', `/v1/models/${modelId}`)).json.name;
    const experiment = (await call('POST', '/v1/experiments', { name: `refusals-${modelId}` })).json.id;
    const runId = (await call('POST', `/v1/experiments/${experiment}/runs`, {})).json.id;
    expect((await uploadVersion(t.app, token, modelId, 'net.pt', 'weights 1')).json.version).toBe(1);

    // Refused streamed: an ONNX file that does not load (422), then one past the size limit (413).
    const broken = await uploadVersion(t.app, token, modelId, 'x.onnx', SILERO.subarray(0, 5000), { runId });
    expect(broken.status).toBe(422);
    const big = await uploadVersion(t.app, token, modelId, 'x.pt', generatedStream(LIMIT + MiB));
    expect(big.status).toBe(413);
    // Refused at completion: the stored file is not the size declared (422). It started as v2 all the same.
    const started = await call('POST', `/v1/models/${modelId}/versions/uploads`, {
      filename: 'net.pt',
      sizeBytes: 10,
      partCount: 1,
      runId,
    });
    expect(started.json.version).toMatchObject({ version: 2, status: 'uploading' });
    // While it uploads, nothing can be pointed at it.
    const alias = await call('PUT', `/v1/models/${modelId}/aliases/production`, { version: 2 });
    expect([alias.status, alias.json.error.message]).toEqual([409, 'Version 2 is uploading, not ready']);
    const [part] = started.json.parts;
    const put = await fetch(part.url, { method: 'PUT', body: new Uint8Array(11) });
    const parts = [{ partNumber: part.partNumber, etag: put.headers.get('etag') ?? '' }];
    const refused = await call('POST', `/v1/models/${modelId}/versions/2/complete`, { parts });
    expect(refused.status, refused.text).toBe(422);

    const next = await uploadVersion(t.app, token, modelId, 'net.pt', 'weights 2');
    expect([next.status, next.json.version]).toEqual([201, 2]);
    expect(next.json.id).not.toBe(started.json.version.id);
    const listed = await call('GET', `/v1/models/${modelId}/versions`);
    expect(listed.json.items.map((v: { version: number }) => v.version)).toEqual([2, 1]);
    // The run lists no version: the refused ones went, and the new v2 came from no run.
    expect((await call('GET', `/v1/runs/${runId}`)).json.modelVersions).toEqual([]);
    const moved = await call('PUT', `/v1/models/${modelId}/aliases/production`, { version: 2 });
    expect(moved.json).toMatchObject({ version: 2, versionId: next.json.id });
    // The audit log keeps the refused upload's start, under the number it was tried as.
    expect(await t.client.auditNames(token, 'model_version.upload_start', started.json.version.id)).toEqual([
      `${modelName} v2`,
    ]);

    // A number a ready version had stays its own once the version is deleted.
    expect((await call('DELETE', `/v1/models/${modelId}/aliases/production`)).status).toBe(204);
    expect((await call('DELETE', `/v1/models/${modelId}/versions/2`)).status).toBe(204);
    expect((await uploadVersion(t.app, token, modelId, 'net.pt', 'weights 3')).json.version).toBe(3);
    expect(await storedKeys(store, `orgs/${owner.orgId}/models/${modelId}/`)).toHaveLength(2);
  });

  it('numbers concurrent accepted uploads apart while the refused ones among them give theirs back', async () => {
    const token = owner.accessToken;
    const modelId = await newModel(t.app, token);
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        i % 2 === 0
          ? uploadVersion(t.app, token, modelId, 'net.pt', `concurrent ${i}`)
          : uploadVersion(t.app, token, modelId, 'x.onnx', SILERO.subarray(0, 5000)),
      ),
    );
    expect(results.map((r) => r.status)).toEqual([201, 422, 201, 422, 201, 422, 201, 422]);
    const accepted = results.flatMap((r) => (r.status === 201 ? [r.json.version as number] : []));
    expect(new Set(accepted).size).toBe(4);
    const listed = await call('GET', `/v1/models/${modelId}/versions`);
    expect(listed.json.items.map((v: { version: number }) => v.version)).toEqual(
      [...accepted].sort((a, b) => b - a),
    );
    const next = await uploadVersion(t.app, token, modelId, 'net.pt', 'after');
    expect(next.json.version).toBe(Math.max(...accepted) + 1);
  });

  it('refuses with 409 a completion, a parts listing and an abort naming an upload whose number another upload took, and leaves that one intact', async () => {
    const modelId = await newModel(t.app, owner.accessToken);
    const modelName = (await call('GET', `/v1/models/${modelId}`)).json.name;
    const putPart = async (url: string, body: string) => {
      const res = await fetch(url, { method: 'PUT', body });
      expect(res.status).toBe(200);
      return res.headers.get('etag') ?? '';
    };
    const start = (sizeBytes: number) =>
      call('POST', `/v1/models/${modelId}/versions/uploads`, { filename: 'net.pt', sizeBytes, partCount: 1 });
    // The first upload stores its part, then is aborted (naming its own id) before it completes.
    const first = await start(10);
    const firstId = first.json.version.id;
    const firstParts = [{ partNumber: 1, etag: await putPart(first.json.parts[0].url, 'first 10 b') }];
    expect((await call('DELETE', `/v1/models/${modelId}/versions/1?versionId=${firstId}`)).status).toBe(204);
    // Its number goes to the next upload.
    const second = await start(11);
    expect(second.json.version).toMatchObject({ version: 1, status: 'uploading' });
    const secondId = second.json.version.id;
    const secondBytes = 'second 11 b';
    const secondParts = [{ partNumber: 1, etag: await putPart(second.json.parts[0].url, secondBytes) }];

    // A client still holding the first upload retries it: each request names that upload, none reaches the second.
    const refusal = [409, `Version 1 of model ${modelName} is another upload now; start the upload again`];
    const completed = await call('POST', `/v1/models/${modelId}/versions/1/complete`, {
      versionId: firstId,
      parts: firstParts,
    });
    expect([completed.status, completed.json.error.message]).toEqual(refusal);
    const listed = await call(
      'GET',
      `/v1/models/${modelId}/versions/1/parts?partCount=1&versionId=${firstId}`,
    );
    expect([listed.status, listed.json.error.message]).toEqual(refusal);
    const aborted = await call('DELETE', `/v1/models/${modelId}/versions/1?versionId=${firstId}`);
    expect([aborted.status, aborted.json.error.message]).toEqual(refusal);

    // The second upload is as it was: its part still stored, and it completes with its own bytes.
    const mine = await call(
      'GET',
      `/v1/models/${modelId}/versions/1/parts?partCount=1&versionId=${secondId}`,
    );
    expect(mine.json.stored).toEqual([{ partNumber: 1, etag: secondParts[0]?.etag, sizeBytes: 11 }]);
    const done = await call('POST', `/v1/models/${modelId}/versions/1/complete`, {
      versionId: secondId,
      parts: secondParts,
    });
    expect(done.status, done.text).toBe(200);
    expect(done.json).toMatchObject({
      id: secondId,
      version: 1,
      status: 'ready',
      sha256: sha256(Buffer.from(secondBytes)),
    });
  });

  it('completes a multipart upload from presigned S3 part URLs, verifies it, and deletes it with the model', async () => {
    const modelId = await newModel(t.app, owner.accessToken);
    // S3 wants every part but the last to be at least 5 MiB.
    const bytes = new Uint8Array(11 * MiB);
    for (let i = 0; i < bytes.length; i += 4096) bytes[i] = (i / 4096) % 256;
    const sizes = [5 * MiB, 5 * MiB, MiB];
    const started = await call('POST', `/v1/models/${modelId}/versions/uploads`, {
      filename: 'net.pth',
      sizeBytes: bytes.length,
      partCount: 3,
    });
    expect(started.status, started.text).toBe(201);
    let offset = 0;
    const parts = [];
    for (const [i, { partNumber, url }] of started.json.parts.entries()) {
      const size = sizes[i] ?? 0;
      const res = await fetch(url, { method: 'PUT', body: bytes.subarray(offset, offset + size) });
      offset += size;
      expect(res.status).toBe(200);
      parts.push({ partNumber, etag: res.headers.get('etag') ?? '' });
    }
    const done = await call('POST', `/v1/models/${modelId}/versions/1/complete`, { parts });
    expect(done.status, done.text).toBe(200);
    expect(done.json).toMatchObject({ status: 'ready', sizeBytes: bytes.length, sha256: sha256(bytes) });

    expect((await call('DELETE', `/v1/models/${modelId}`)).status).toBe(204);
    expect(await storedKeys(store, `orgs/${owner.orgId}/models/${modelId}/`)).toEqual([]);
  });
});
