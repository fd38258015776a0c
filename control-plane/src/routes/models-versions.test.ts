import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatedStream, newModel, storedKeys, uploadVersion } from '../../testing/models.js';
import { createTestApp, type Session } from '../../testing/test-app.js';
import { auditLog, modelVersions } from '../db/schema.js';
import { EXPECTED_SIGNATURES, REAL_MODELS } from '../onnx/test-models.js';
import { getStoredBytes } from '../services/storage-accounting.js';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const SILERO = readFileSync(REAL_MODELS.sileroVad);
const PADDLE_CLS = readFileSync(REAL_MODELS.paddleCls);
const LIMIT = 4 * 1024 * 1024;

/** The control plane on 127.0.0.1 and a free port, so signed URLs can be fetched over real HTTP. */
async function serveTestApp(options: { maxModelBytes?: number } = {}) {
  let handler: (request: Request) => Response | Promise<Response> = () => new Response(null, { status: 503 });
  const server = serve({ fetch: (request) => handler(request), hostname: '127.0.0.1', port: 0 });
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const testApp = await createTestApp({ storagePublicUrl: `http://127.0.0.1:${port}`, ...options });
  handler = (request) => testApp.app.fetch(request);
  const close = () => {
    server.close();
    testApp.cleanup();
  };
  return { ...testApp, baseUrl: `http://127.0.0.1:${port}`, close };
}

describe('model versions', () => {
  let t: Awaited<ReturnType<typeof serveTestApp>>;
  let owner: Session;
  let token: string;
  const call = (method: string, path: string, body?: unknown) =>
    t.client.call(method, path, { token, ...(body === undefined ? {} : { body }) });
  const prefixOf = (modelId: string) => `orgs/${owner.orgId}/models/${modelId}/`;

  beforeAll(async () => {
    t = await serveTestApp({ maxModelBytes: LIMIT });
    owner = await t.client.register('owner');
    token = owner.accessToken;
  });
  afterAll(() => t.close());

  it('stores Silero VAD with its sha256, size, and the signature onnxruntime reads from it', async () => {
    const modelId = await newModel(t.app, token);
    const res = await uploadVersion(t.app, token, modelId, 'silero_vad.onnx', SILERO, {
      description: 'VAD v5',
    });
    expect(res.status, res.text).toBe(201);
    expect(res.json).toMatchObject({
      modelId,
      version: 1,
      status: 'ready',
      format: 'onnx',
      runtime: 'onnx',
      fileName: 'silero_vad.onnx',
      description: 'VAD v5',
      sizeBytes: SILERO.length,
      sha256: sha256(SILERO),
      aliases: [],
    });
    expect(res.json.id).toMatch(/^mdv_[0-9a-z]{26}$/);
    expect(res.json.signature).toEqual(EXPECTED_SIGNATURES.sileroVad);
    const fetched = await call('GET', `/v1/models/${modelId}/versions/1`);
    expect(fetched.json).toEqual(res.json);
    expect(await storedKeys(t.objectStore, prefixOf(modelId))).toEqual([
      `${prefixOf(modelId)}versions/${res.json.id}/model`,
    ]);
  });

  it('stores PaddleOCR cls with symbolic dimension names beside -1', async () => {
    const modelId = await newModel(t.app, token);
    const res = await uploadVersion(t.app, token, modelId, 'cls.onnx', PADDLE_CLS);
    expect(res.status, res.text).toBe(201);
    expect(res.json.sha256).toBe(sha256(PADDLE_CLS));
    expect(res.json.signature).toEqual(EXPECTED_SIGNATURES.paddleCls);
  });

  it('rejects a truncated ONNX file with 422 and a reason, leaving no object, no version and no bytes', async () => {
    const modelId = await newModel(t.app, token);
    const before = await getStoredBytes(t.db, owner.orgId);
    const res = await uploadVersion(t.app, token, modelId, 'broken.onnx', SILERO.subarray(0, 100_000));
    expect(res.status, res.text).toBe(422);
    expect(res.json.error.code).toBe('unprocessable');
    expect(res.json.error.message).toMatch(/truncated/);
    expect(await storedKeys(t.objectStore, prefixOf(modelId))).toEqual([]);
    expect((await call('GET', `/v1/models/${modelId}/versions`)).json.items).toEqual([]);
    expect(await getStoredBytes(t.db, owner.orgId)).toEqual(before);
  });

  it('rejects an empty file with 422', async () => {
    const modelId = await newModel(t.app, token);
    const res = await uploadVersion(t.app, token, modelId, 'empty.pt', new Uint8Array());
    expect(res.status).toBe(422);
    expect(res.json.error.message).toMatch(/empty/);
    expect(await storedKeys(t.objectStore, prefixOf(modelId))).toEqual([]);
  });

  it('answers 415 to a file name with no known model format', async () => {
    const modelId = await newModel(t.app, token);
    for (const name of ['model.exe', 'model', 'weights.bin', 'notes.txt']) {
      const res = await uploadVersion(t.app, token, modelId, name, 'bytes');
      expect(res.status, name).toBe(415);
      expect(res.json.error.code).toBe('unsupported_media_type');
      // The SDK and the CLI refuse such a file before uploading it, in these words.
      expect(res.json.error.message).toBe(
        `Unknown model format for "${name}"; supported endings: .tar.gz .joblib .keras .onnx .pkl .pth .tgz .zip .pt .h5 .pb`,
      );
    }
    expect(await storedKeys(t.objectStore, prefixOf(modelId))).toEqual([]);
  });

  it('stores scikit-learn, PyTorch, TensorFlow and Keras files with their format, for a container runtime', async () => {
    const modelId = await newModel(t.app, token);
    const cases = [
      ['clf.pkl', 'sklearn'],
      ['clf.joblib', 'sklearn'],
      ['net.pt', 'pytorch'],
      ['net.pth', 'pytorch'],
      ['model.h5', 'keras'],
      ['model.keras', 'keras'],
      ['graph.pb', 'tensorflow'],
      ['saved_model.tar.gz', 'tensorflow'],
      ['saved_model.zip', 'tensorflow'],
    ] as const;
    for (const [name, format] of cases) {
      const bytes = new TextEncoder().encode(`not really a ${format} model: ${name}`);
      const res = await uploadVersion(t.app, token, modelId, name, bytes);
      expect(res.status, res.text).toBe(201);
      expect(res.json).toMatchObject({
        format,
        runtime: 'container',
        signature: null,
        sha256: sha256(bytes),
        sizeBytes: bytes.length,
      });
    }
  });

  it("numbers versions 1, 2, 3 and never reuses a ready version's number; only description, tags and metadata change", async () => {
    const modelId = await newModel(t.app, token);
    for (const n of [1, 2, 3]) {
      const res = await uploadVersion(t.app, token, modelId, 'net.pt', `weights ${n}`);
      expect(res.json.version).toBe(n);
    }
    const listed = await call('GET', `/v1/models/${modelId}/versions`);
    expect(listed.json.items.map((v: { version: number }) => v.version)).toEqual([3, 2, 1]);
    const page = await call('GET', `/v1/models/${modelId}/versions?limit=2`);
    expect(page.json.nextCursor).toBe('2');
    const rest = await call('GET', `/v1/models/${modelId}/versions?limit=2&cursor=2`);
    expect(rest.json.items.map((v: { version: number }) => v.version)).toEqual([1]);

    const patched = await call('PATCH', `/v1/models/${modelId}/versions/2`, {
      description: 'candidate',
      tags: { stage: 'eval' },
      metadata: { accuracy: 0.91, classes: ['a', 'b'] },
    });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({
      version: 2,
      description: 'candidate',
      tags: { stage: 'eval' },
      metadata: { accuracy: 0.91, classes: ['a', 'b'] },
      sha256: sha256(new TextEncoder().encode('weights 2')),
    });
    for (const field of ['sha256', 'fileName', 'format', 'sizeBytes', 'signature', 'version']) {
      const res = await call('PATCH', `/v1/models/${modelId}/versions/2`, { [field]: 'x' });
      expect(res.status, field).toBe(400);
    }

    expect((await call('DELETE', `/v1/models/${modelId}/versions/3`)).status).toBe(204);
    const next = await uploadVersion(t.app, token, modelId, 'net.pt', 'weights 4');
    expect(next.json.version).toBe(4);
    expect((await call('GET', `/v1/models/${modelId}/versions/3`)).status).toBe(404);
    expect((await call('GET', `/v1/models/${modelId}/versions/latest`)).json.version).toBe(4);
  });

  it('hands out distinct numbers to concurrent uploads', async () => {
    const modelId = await newModel(t.app, token);
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => uploadVersion(t.app, token, modelId, 'net.pt', `concurrent ${i}`)),
    );
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(201));
    expect(results.map((r) => r.json.version).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('moves aliases between versions and refuses to delete a version an alias points at', async () => {
    const modelId = await newModel(t.app, token);
    await uploadVersion(t.app, token, modelId, 'net.pt', 'v1');
    await uploadVersion(t.app, token, modelId, 'net.pt', 'v2');
    const set = await call('PUT', `/v1/models/${modelId}/aliases/production`, { version: 1 });
    expect(set.status).toBe(200);
    expect(set.json).toMatchObject({ alias: 'production', version: 1, moved: false });
    await call('PUT', `/v1/models/${modelId}/aliases/staging`, { version: 2 });
    expect((await call('GET', `/v1/models/${modelId}/versions/production`)).json.version).toBe(1);

    const moved = await call('PUT', `/v1/models/${modelId}/aliases/production`, { version: 2 });
    expect(moved.json).toMatchObject({ version: 2, moved: true });
    const model = await call('GET', `/v1/models/${modelId}`);
    expect(model.json.aliases).toEqual([
      { alias: 'production', version: 2 },
      { alias: 'staging', version: 2 },
    ]);
    expect((await call('GET', `/v1/models/${modelId}/versions/2`)).json.aliases).toEqual([
      'production',
      'staging',
    ]);

    const refused = await call('DELETE', `/v1/models/${modelId}/versions/2`);
    expect(refused.status).toBe(409);
    expect(refused.json.error.message).toContain('"production", "staging"');
    expect((await call('DELETE', `/v1/models/${modelId}/aliases/staging`)).status).toBe(204);
    expect((await call('DELETE', `/v1/models/${modelId}/aliases/staging`)).status).toBe(404);
    expect((await call('PUT', `/v1/models/${modelId}/aliases/production`, { version: 1 })).status).toBe(200);
    expect((await call('DELETE', `/v1/models/${modelId}/versions/2`)).status).toBe(204);

    expect((await call('PUT', `/v1/models/${modelId}/aliases/canary`, { version: 9 })).status).toBe(404);
    for (const alias of ['latest', 'uploads', '1', '2x', 'a.b', '-x']) {
      const res = await call('PUT', `/v1/models/${modelId}/aliases/${alias}`, { version: 1 });
      expect(res.status, alias).toBe(400);
    }
  });

  it('keeps org storage bytes current through uploads, failures and deletes', async () => {
    const other = await t.client.register('accounting');
    const modelId = await newModel(t.app, other.accessToken);
    const bytes = (await getStoredBytes(t.db, other.orgId)).modelBytes;
    expect(bytes).toBe(0);
    await uploadVersion(t.app, other.accessToken, modelId, 'vad.onnx', SILERO);
    await uploadVersion(t.app, other.accessToken, modelId, 'cls.onnx', PADDLE_CLS);
    await uploadVersion(t.app, other.accessToken, modelId, 'bad.onnx', 'not onnx');
    expect(await getStoredBytes(t.db, other.orgId)).toEqual({
      modelBytes: SILERO.length + PADDLE_CLS.length,
      artifactBytes: 0,
      totalBytes: SILERO.length + PADDLE_CLS.length,
    });
    await t.client.call('DELETE', `/v1/models/${modelId}/versions/1`, { token: other.accessToken });
    expect((await getStoredBytes(t.db, other.orgId)).modelBytes).toBe(PADDLE_CLS.length);
    const deleted = await t.client.call('DELETE', `/v1/models/${modelId}`, { token: other.accessToken });
    expect(deleted.status).toBe(204);
    expect((await getStoredBytes(t.db, other.orgId)).modelBytes).toBe(0);
    expect(await storedKeys(t.objectStore, `orgs/${other.orgId}/`)).toEqual([]);
  });

  it('signs a download URL that plain fetch follows to the exact bytes, and that fails when tampered with', async () => {
    const modelId = await newModel(t.app, token);
    await uploadVersion(t.app, token, modelId, 'vad.onnx', SILERO);
    await call('PUT', `/v1/models/${modelId}/aliases/production`, { version: 1 });
    const signed = await call('GET', `/v1/models/${modelId}/versions/production/download-url?expiresIn=60`);
    expect(signed.status).toBe(200);
    expect(signed.json).toMatchObject({ sha256: sha256(SILERO), sizeBytes: SILERO.length, version: 1 });
    const expiresIn = Date.parse(signed.json.expiresAt) - Date.now();
    expect(expiresIn).toBeGreaterThan(50_000);
    expect(expiresIn).toBeLessThanOrEqual(60_000);
    expect(signed.json.url.startsWith(t.baseUrl)).toBe(true);

    const res = await fetch(signed.json.url);
    expect(res.status).toBe(200);
    const body = new Uint8Array(await res.arrayBuffer());
    expect(body.length).toBe(SILERO.length);
    expect(sha256(body)).toBe(signed.json.sha256);

    const tampered = signed.json.url.replace(
      /signature=([0-9a-f])/,
      (_: string, c: string) => `signature=${c === '0' ? '1' : '0'}`,
    );
    expect((await fetch(tampered)).status).toBe(403);
    expect((await call('GET', `/v1/models/${modelId}/versions/7/download-url`)).status).toBe(404);
  });

  it('signs short-lived URLs (5 min by default, an hour at most) that deleting the version revokes', async () => {
    const modelId = await newModel(t.app, token);
    await uploadVersion(t.app, token, modelId, 'vad.onnx', SILERO);
    const signed = await call('GET', `/v1/models/${modelId}/versions/1/download-url`);
    const lifetime = Date.parse(signed.json.expiresAt) - Date.now();
    expect(lifetime).toBeGreaterThan(290_000);
    expect(lifetime).toBeLessThanOrEqual(300_000);
    expect((await call('GET', `/v1/models/${modelId}/versions/1/download-url?expiresIn=3601`)).status).toBe(
      400,
    );
    expect((await call('GET', `/v1/models/${modelId}/versions/1/download-url?expiresIn=0x10`)).status).toBe(
      400,
    );
    expect((await fetch(signed.json.url)).status).toBe(200);
    expect((await call('DELETE', `/v1/models/${modelId}/versions/1`)).status).toBe(204);
    expect((await fetch(signed.json.url)).status).toBe(404);
  });

  it('answers 413 past the size limit and leaves nothing behind, streamed or declared', async () => {
    const modelId = await newModel(t.app, token);
    const streamed = await uploadVersion(t.app, token, modelId, 'big.onnx', generatedStream(LIMIT + 1));
    expect(streamed.status, streamed.text).toBe(413);
    expect(streamed.json.error.code).toBe('payload_too_large');
    const overHttp = await fetch(`${t.baseUrl}/v1/models/${modelId}/versions?filename=big.pt`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-length': String(LIMIT * 2) },
      body: new Uint8Array(LIMIT * 2),
    });
    expect(overHttp.status).toBe(413);
    expect(overHttp.headers.get('connection')).toBe('close');
    const streamedOverHttp = await fetch(`${t.baseUrl}/v1/models/${modelId}/versions?filename=big.pt`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: generatedStream(LIMIT * 4),
      duplex: 'half',
    } as RequestInit);
    expect(streamedOverHttp.status).toBe(413);
    expect(((await streamedOverHttp.json()) as { error: { code: string } }).error.code).toBe(
      'payload_too_large',
    );
    expect(await storedKeys(t.objectStore, prefixOf(modelId))).toEqual([]);
    expect((await call('GET', `/v1/models/${modelId}/versions`)).json.items).toEqual([]);

    const atLimit = await uploadVersion(t.app, token, modelId, 'fits.pt', generatedStream(LIMIT));
    expect(atLimit.status).toBe(201);
    expect(atLimit.json.sizeBytes).toBe(LIMIT);
  });

  it('records every mutation in the audit log', async () => {
    const modelId = await newModel(t.app, token);
    const uploaded = await uploadVersion(t.app, token, modelId, 'net.pt', 'audited');
    await call('PATCH', `/v1/models/${modelId}/versions/1`, { description: 'x' });
    await call('PUT', `/v1/models/${modelId}/aliases/production`, { version: 1 });
    await call('DELETE', `/v1/models/${modelId}/aliases/production`);
    await call('DELETE', `/v1/models/${modelId}/versions/1`);
    const rows = await t.db
      .select({ action: auditLog.action, targetId: auditLog.targetId, metadata: auditLog.metadata })
      .from(auditLog)
      .where(and(eq(auditLog.orgId, owner.orgId)));
    const actions = rows
      .filter((r) => r.targetId === modelId || r.targetId === uploaded.json.id)
      .map((r) => r.action);
    expect(actions).toEqual([
      'model.create',
      'model_version.create',
      'model_version.update',
      'model_alias.set',
      'model_alias.delete',
      'model_version.delete',
    ]);
    // Alias entries name the model, as people read the log.
    const modelName = (await call('GET', `/v1/models/${modelId}`)).json.name;
    const aliasNames = rows
      .filter((r) => r.targetId === modelId && r.action.startsWith('model_alias.'))
      .map((r) => r.metadata?.name);
    expect(aliasNames).toEqual([modelName, modelName]);
    // Version entries name the model and the number, as people read the log.
    const versionNames = await Promise.all(
      ['model_version.create', 'model_version.update', 'model_version.delete'].map((action) =>
        t.client.auditNames(token, action, uploaded.json.id),
      ),
    );
    expect(versionNames.flat()).toEqual([`${modelName} v1`, `${modelName} v1`, `${modelName} v1`]);
  });
});

describe('presigned multipart uploads', () => {
  let t: Awaited<ReturnType<typeof serveTestApp>>;
  let token: string;
  let orgId: string;
  const call = (method: string, path: string, body?: unknown) =>
    t.client.call(method, path, { token, ...(body === undefined ? {} : { body }) });

  beforeAll(async () => {
    t = await serveTestApp({ maxModelBytes: LIMIT });
    const owner = await t.client.register('owner');
    token = owner.accessToken;
    orgId = owner.orgId;
  });
  afterAll(() => t.close());

  /** PUTs each slice to its presigned URL with plain fetch, as a client would, and returns the ETags. */
  async function putParts(parts: { partNumber: number; url: string }[], slices: Uint8Array[]) {
    return Promise.all(
      parts.map(async ({ partNumber, url }) => {
        const res = await fetch(url, { method: 'PUT', body: slices[partNumber - 1] });
        expect(res.status).toBe(200);
        return { partNumber, etag: res.headers.get('etag') ?? '' };
      }),
    );
  }
  const split = (bytes: Uint8Array, n: number) => {
    const size = Math.ceil(bytes.length / n);
    return Array.from({ length: n }, (_, i) => bytes.subarray(i * size, (i + 1) * size));
  };

  it('completes an ONNX upload from part URLs, then verifies its sha256 and signature', async () => {
    const modelId = await newModel(t.app, token);
    const started = await call('POST', `/v1/models/${modelId}/versions/uploads`, {
      filename: 'vad.onnx',
      sizeBytes: SILERO.length,
      partCount: 3,
      tags: { source: 'multipart' },
    });
    expect(started.status, started.text).toBe(201);
    expect(started.json.version).toMatchObject({ version: 1, status: 'uploading', sha256: null });
    expect(started.json.parts).toHaveLength(3);
    const pending = await call('GET', `/v1/models/${modelId}/versions/1/download-url`);
    expect(pending.status).toBe(409);

    const parts = await putParts(started.json.parts, split(SILERO, 3));
    const done = await call('POST', `/v1/models/${modelId}/versions/1/complete`, { parts });
    expect(done.status, done.text).toBe(200);
    expect(done.json).toMatchObject({
      status: 'ready',
      sha256: sha256(SILERO),
      sizeBytes: SILERO.length,
      tags: { source: 'multipart' },
      signature: { opset: 16 },
    });
    const again = await call('POST', `/v1/models/${modelId}/versions/1/complete`, { parts });
    expect(again.status).toBe(409);

    const url = (await call('GET', `/v1/models/${modelId}/versions/1/download-url`)).json.url;
    expect(sha256(new Uint8Array(await (await fetch(url)).arrayBuffer()))).toBe(sha256(SILERO));
    expect((await getStoredBytes(t.db, orgId)).modelBytes).toBe(SILERO.length);
    const modelName = (await call('GET', `/v1/models/${modelId}`)).json.name;
    for (const action of ['model_version.upload_start', 'model_version.create']) {
      expect(await t.client.auditNames(token, action, done.json.id)).toEqual([`${modelName} v1`]);
    }
  });

  it('resumes an upload with URLs for its missing parts only, and refuses another part count (400)', async () => {
    const modelId = await newModel(t.app, token);
    const started = await call('POST', `/v1/models/${modelId}/versions/uploads`, {
      filename: 'vad.onnx',
      sizeBytes: SILERO.length,
      partCount: 2,
    });
    await putParts(started.json.parts.slice(0, 1), split(SILERO, 2));
    const resumed = await call('GET', `/v1/models/${modelId}/versions/1/parts?partCount=2`);
    expect(resumed.status, resumed.text).toBe(200);
    expect(resumed.json.stored.map((p: { partNumber: number }) => p.partNumber)).toEqual([1]);
    expect(resumed.json.parts.map((p: { partNumber: number }) => p.partNumber)).toEqual([2]);
    for (const count of [10000, 3, 1]) {
      const other = await call('GET', `/v1/models/${modelId}/versions/1/parts?partCount=${count}`);
      expect(other.status, other.text.slice(0, 200)).toBe(400);
      expect(other.json.error.details).toEqual([
        { path: 'partCount', message: `the upload was started with 2 parts, not ${count}` },
      ]);
    }
  });

  it('deletes an ONNX file that does not load at completion (422), and its version', async () => {
    const modelId = await newModel(t.app, token);
    const junk = new Uint8Array(1000).fill(7);
    const started = await call('POST', `/v1/models/${modelId}/versions/uploads`, {
      filename: 'junk.onnx',
      sizeBytes: junk.length,
      partCount: 1,
    });
    const parts = await putParts(started.json.parts, [junk]);
    const done = await call('POST', `/v1/models/${modelId}/versions/1/complete`, { parts });
    expect(done.status).toBe(422);
    expect(done.json.error.message).toMatch(/ONNX|onnxruntime/);
    expect(await storedKeys(t.objectStore, `orgs/${orgId}/models/${modelId}/`)).toEqual([]);
    expect((await call('GET', `/v1/models/${modelId}/versions/1`)).status).toBe(404);
  });

  it('refuses a file whose size differs from the declared one (422) and one declared over the limit (413)', async () => {
    const modelId = await newModel(t.app, token);
    const started = await call('POST', `/v1/models/${modelId}/versions/uploads`, {
      filename: 'net.pt',
      sizeBytes: 10,
      partCount: 1,
    });
    const parts = await putParts(started.json.parts, [new Uint8Array(11)]);
    const done = await call('POST', `/v1/models/${modelId}/versions/1/complete`, { parts });
    expect(done.status).toBe(422);
    expect(done.json.error.message).toMatch(/11 bytes but 10 were declared/);
    expect(await storedKeys(t.objectStore, `orgs/${orgId}/models/${modelId}/`)).toEqual([]);

    const tooBig = await call('POST', `/v1/models/${modelId}/versions/uploads`, {
      filename: 'net.pt',
      sizeBytes: LIMIT + 1,
      partCount: 1,
    });
    expect(tooBig.status).toBe(413);
    const unknown = await call('POST', `/v1/models/${modelId}/versions/uploads`, {
      filename: 'net.exe',
      sizeBytes: 1,
      partCount: 1,
    });
    expect(unknown.status).toBe(415);
  });

  it('lets a completion with a wrong ETag be retried, and an abandoned upload be deleted', async () => {
    const modelId = await newModel(t.app, token);
    const bytes = new TextEncoder().encode('pytorch weights');
    const started = await call('POST', `/v1/models/${modelId}/versions/uploads`, {
      filename: 'net.pt',
      sizeBytes: bytes.length,
      partCount: 1,
    });
    const parts = await putParts(started.json.parts, [bytes]);
    const wrong = await call('POST', `/v1/models/${modelId}/versions/1/complete`, {
      parts: [{ partNumber: 1, etag: '"0000"' }],
    });
    expect(wrong.status).toBe(400);
    const right = await call('POST', `/v1/models/${modelId}/versions/1/complete`, { parts });
    expect(right.status, right.text).toBe(200);

    const abandoned = await call('POST', `/v1/models/${modelId}/versions/uploads`, {
      filename: 'net.pt',
      sizeBytes: 5,
      partCount: 1,
    });
    await putParts(abandoned.json.parts, [new Uint8Array(5)]);
    expect((await call('DELETE', `/v1/models/${modelId}/versions/2`)).status).toBe(204);
    const [row] = await t.db.select().from(modelVersions).where(eq(modelVersions.modelId, modelId));
    expect(row?.version).toBe(1);
    expect(await storedKeys(t.objectStore, `orgs/${orgId}/models/${modelId}/`)).toHaveLength(1);
  });
});
