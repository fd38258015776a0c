import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newModel, storedKeys, uploadVersion } from '../../testing/models.js';
import { createTestApp, type Session } from '../../testing/test-app.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

describe('models', () => {
  let t: TestApp;
  let owner: Session;
  const call = (method: string, path: string, body?: unknown, token = owner.accessToken) =>
    t.client.call(method, path, { token, ...(body === undefined ? {} : { body }) });

  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('owner');
  });
  afterAll(() => t.cleanup());

  it('creates, lists, renames and describes a model whose name is unique in the org', async () => {
    const created = await call('POST', '/v1/models', {
      name: 'fraud-detector',
      description: 'Scores card payments',
      tags: { team: 'risk' },
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      name: 'fraud-detector',
      description: 'Scores card payments',
      tags: { team: 'risk' },
      latestVersion: null,
      aliases: [],
    });
    expect(created.json.id).toMatch(/^mdl_[0-9a-z]{26}$/);

    const dup = await call('POST', '/v1/models', { name: 'fraud-detector' });
    expect(dup.status).toBe(409);
    expect(dup.json.error.code).toBe('conflict');
    const elsewhere = await t.client.register('other');
    expect((await call('POST', '/v1/models', { name: 'fraud-detector' }, elsewhere.accessToken)).status).toBe(
      201,
    );

    const listed = await call('GET', '/v1/models?name=fraud-detector');
    expect(listed.json.items.map((m: { id: string }) => m.id)).toEqual([created.json.id]);

    const renamed = await call('PATCH', `/v1/models/${created.json.id}`, { name: 'fraud-v2', tags: {} });
    expect(renamed.status).toBe(200);
    expect(renamed.json).toMatchObject({ name: 'fraud-v2', tags: {}, description: 'Scores card payments' });
    await call('POST', '/v1/models', { name: 'taken' });
    expect((await call('PATCH', `/v1/models/${created.json.id}`, { name: 'taken' })).status).toBe(409);
  });

  it('names the model in its update entries as it is called after each change', async () => {
    const id = await newModel(t.app, owner.accessToken, 'ocr');
    await call('PATCH', `/v1/models/${id}`, { description: 'Reads receipts' });
    await call('PATCH', `/v1/models/${id}`, { name: 'ocr-2' });
    expect(await t.client.auditNames(owner.accessToken, 'model.update', id)).toEqual(['ocr-2', 'ocr']);
  });

  it('pages through models newest first', async () => {
    const user = await t.client.register('pager');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await newModel(t.app, user.accessToken));
    const first = await call('GET', '/v1/models?limit=3', undefined, user.accessToken);
    expect(first.json.items.map((m: { id: string }) => m.id)).toEqual(ids.slice(2).reverse());
    const second = await call(
      'GET',
      `/v1/models?limit=3&cursor=${first.json.nextCursor}`,
      undefined,
      user.accessToken,
    );
    expect(second.json.items.map((m: { id: string }) => m.id)).toEqual(ids.slice(0, 2).reverse());
    expect(second.json.nextCursor).toBeNull();
  });

  it('shows the latest ready version and the aliases on the model', async () => {
    const id = await newModel(t.app, owner.accessToken);
    await uploadVersion(t.app, owner.accessToken, id, 'clf.pkl', 'one');
    await uploadVersion(t.app, owner.accessToken, id, 'clf.pkl', 'two');
    await call('PUT', `/v1/models/${id}/aliases/champion`, { version: 1 });
    const model = await call('GET', `/v1/models/${id}`);
    expect(model.json).toMatchObject({ latestVersion: 2, aliases: [{ alias: 'champion', version: 1 }] });
  });

  it('deletes a model with its versions, aliases and every stored object', async () => {
    const id = await newModel(t.app, owner.accessToken);
    await uploadVersion(t.app, owner.accessToken, id, 'net.pt', 'a');
    await uploadVersion(t.app, owner.accessToken, id, 'net.pt', 'b');
    await call('PUT', `/v1/models/${id}/aliases/production`, { version: 2 });
    const prefix = `orgs/${owner.orgId}/models/${id}/`;
    expect(await storedKeys(t.objectStore, prefix)).toHaveLength(2);
    expect((await call('DELETE', `/v1/models/${id}`)).status).toBe(204);
    expect(await storedKeys(t.objectStore, prefix)).toEqual([]);
    expect((await call('GET', `/v1/models/${id}`)).status).toBe(404);
    expect((await call('GET', `/v1/models/${id}/versions/1`)).status).toBe(404);
    expect((await call('DELETE', `/v1/models/${id}`)).status).toBe(404);
  });

  it('refuses path-like names, unknown fields, oversized tags and metadata with the 400 envelope', async () => {
    const bad: unknown[] = [
      { name: '../etc' },
      { name: 'a/b' },
      { name: '..' },
      { name: '.hidden' },
      { name: 'a..b' },
      { name: '' },
      { name: 'x'.repeat(129) },
      { name: 'ok', owner: 'someone' },
      { name: 'ok', tags: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v'])) },
      { name: 'ok', tags: { k: 'v'.repeat(1025) } },
      { name: 'ok', tags: { 'bad key': 'v' } },
      { name: 'ok', tags: { k: 1 } },
      { name: 'ok', description: 'd'.repeat(5001) },
    ];
    for (const body of bad) {
      const res = await call('POST', '/v1/models', body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(res.json.error).toMatchObject({ code: 'validation_failed', requestId: expect.any(String) });
    }
    const id = await newModel(t.app, owner.accessToken);
    expect((await call('PATCH', `/v1/models/${id}`, {})).status).toBe(400);
    await uploadVersion(t.app, owner.accessToken, id, 'net.pt', 'x');
    const huge = { blob: 'x'.repeat(17 * 1024) };
    expect((await call('PATCH', `/v1/models/${id}/versions/1`, { metadata: huge })).status).toBe(400);
    for (const name of ['../model.onnx', 'dir/model.onnx', '.onnx', 'a..onnx']) {
      const res = await uploadVersion(t.app, owner.accessToken, id, name, 'x');
      expect(res.status, name).toBe(400);
    }
    const ghostRun = `run_${'0'.repeat(26)}`;
    const res = await uploadVersion(t.app, owner.accessToken, id, 'net.pt', 'x', { runId: ghostRun });
    const unknownRun = `no run ${ghostRun} in this organisation`;
    expect([res.status, res.json.error.message]).toEqual([400, `runId: ${unknownRun}`]);
    expect(res.json.error.details).toEqual([{ path: 'runId', message: unknownRun }]);
    const started = await call('POST', `/v1/models/${id}/versions/uploads`, {
      filename: 'net.pt',
      sizeBytes: 10,
      partCount: 1,
      runId: ghostRun,
    });
    expect([started.status, started.json.error.message]).toEqual([400, `runId: ${unknownRun}`]);
    expect((await call('GET', `/v1/models/${id}/versions/..%2F1`)).status).toBe(400);
  });
});

describe('who may read and write models', () => {
  let t: TestApp;
  let owner: Session;
  let modelId: string;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('owner');
    modelId = await newModel(t.app, owner.accessToken);
    await uploadVersion(t.app, owner.accessToken, modelId, 'net.pt', 'weights');
    tokens.viewer = (await t.client.joinOrg(owner, await t.client.register('viewer'), 'viewer')).accessToken;
    tokens.member = (await t.client.joinOrg(owner, await t.client.register('member'), 'member')).accessToken;
    tokens.readKey = (await t.client.createKey(owner, { scopes: ['models:read'] })).secret;
    tokens.writeKey = (await t.client.createKey(owner, { scopes: ['models:write'] })).secret;
    tokens.predictKey = (await t.client.createKey(owner, { scopes: ['predict'] })).secret;
  });
  afterAll(() => t.cleanup());

  const reads = () => [
    ['GET', '/v1/models'],
    ['GET', `/v1/models/${modelId}`],
    ['GET', `/v1/models/${modelId}/versions`],
    ['GET', `/v1/models/${modelId}/versions/1`],
    ['GET', `/v1/models/${modelId}/versions/1/download-url`],
  ];

  it('lets viewers and models:read keys read, and refuses keys without a models scope', async () => {
    for (const who of ['viewer', 'readKey', 'member', 'writeKey']) {
      for (const [method, path] of reads()) {
        const res = await t.client.call(method ?? 'GET', path ?? '', { token: tokens[who] ?? '' });
        expect(res.status, `${who} ${path}`).toBe(200);
      }
    }
    for (const [method, path] of reads()) {
      const res = await t.client.call(method ?? 'GET', path ?? '', { token: tokens.predictKey ?? '' });
      expect(res.status, path).toBe(403);
    }
  });

  it('refuses every write to viewers and read-only keys, and allows members and models:write keys', async () => {
    for (const who of ['viewer', 'readKey']) {
      const token = tokens[who] ?? '';
      expect((await t.client.call('POST', '/v1/models', { token, body: { name: `by-${who}` } })).status).toBe(
        403,
      );
      expect((await uploadVersion(t.app, token, modelId, 'net.pt', 'x')).status).toBe(403);
      const aliased = await t.client.call('PUT', `/v1/models/${modelId}/aliases/prod`, {
        token,
        body: { version: 1 },
      });
      expect(aliased.status).toBe(403);
      expect((await t.client.call('DELETE', `/v1/models/${modelId}/versions/1`, { token })).status).toBe(403);
      expect((await t.client.call('DELETE', `/v1/models/${modelId}`, { token })).status).toBe(403);
    }
    for (const who of ['member', 'writeKey']) {
      const token = tokens[who] ?? '';
      const id = await newModel(t.app, token);
      expect((await uploadVersion(t.app, token, id, 'net.pt', 'x')).status).toBe(201);
      expect((await t.client.call('DELETE', `/v1/models/${id}`, { token })).status).toBe(204);
    }
  });
});

describe('model tenant isolation', () => {
  let t: TestApp;
  let a: Session;
  let b: Session;
  let bModel: string;

  beforeAll(async () => {
    t = await createTestApp();
    a = await t.client.register('alpha');
    b = await t.client.register('bravo');
    bModel = await newModel(t.app, b.accessToken, 'bravo-secret-model');
    await uploadVersion(t.app, b.accessToken, bModel, 'net.pt', 'bravo weights');
    await t.client.call('PUT', `/v1/models/${bModel}/aliases/production`, {
      token: b.accessToken,
      body: { version: 1 },
    });
  });
  afterAll(() => t.cleanup());

  /** Every route that names a model, aimed at `id`. */
  const attempts = (id: string): [string, string, unknown?][] => [
    ['GET', `/v1/models/${id}`],
    ['PATCH', `/v1/models/${id}`, { description: 'mine now' }],
    ['DELETE', `/v1/models/${id}`],
    ['PUT', `/v1/models/${id}/aliases/production`, { version: 1 }],
    ['DELETE', `/v1/models/${id}/aliases/production`],
    ['GET', `/v1/models/${id}/versions`],
    ['POST', `/v1/models/${id}/versions/uploads`, { filename: 'net.pt', sizeBytes: 5, partCount: 1 }],
    ['POST', `/v1/models/${id}/versions/1/complete`, { parts: [{ partNumber: 1, etag: '"x"' }] }],
    ['GET', `/v1/models/${id}/versions/1`],
    ['GET', `/v1/models/${id}/versions/production`],
    ['PATCH', `/v1/models/${id}/versions/1`, { description: 'mine now' }],
    ['DELETE', `/v1/models/${id}/versions/1`],
    ['GET', `/v1/models/${id}/versions/1/download-url`],
  ];

  it("answers 404 to every route aimed at B's model, exactly as for a model that does not exist", async () => {
    const keyA = (await t.client.createKey(a, { scopes: ['admin'] })).secret;
    for (const token of [a.accessToken, keyA]) {
      const ghost = attempts(`mdl_${'0'.repeat(26)}`);
      for (const [i, [method, path, body]] of attempts(bModel).entries()) {
        const res = await t.client.call(method, path, { token, ...(body === undefined ? {} : { body }) });
        expect(res.status, `${method} ${path}`).toBe(404);
        expect(res.text).not.toContain('bravo');
        const [gm, gp, gb] = ghost[i] ?? [];
        const missing = await t.client.call(gm ?? '', gp ?? '', {
          token,
          ...(gb === undefined ? {} : { body: gb }),
        });
        expect(missing.json.error).toEqual({ ...res.json.error, requestId: missing.json.error.requestId });
      }
      const upload = await uploadVersion(t.app, token, bModel, 'net.pt', 'intruder');
      expect(upload.status).toBe(404);
    }
    const mine = await t.client.call('GET', '/v1/models', { token: a.accessToken });
    expect(mine.json.items).toEqual([]);

    const intact = await t.client.call('GET', `/v1/models/${bModel}/versions/production`, {
      token: b.accessToken,
    });
    expect(intact.json).toMatchObject({ version: 1, description: '', aliases: ['production'] });
    expect(await storedKeys(t.objectStore, `orgs/${a.orgId}/`)).toEqual([]);
  });
});
