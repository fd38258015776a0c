import { newId } from '@meridian/protocol';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type Session } from '../../testing/test-app.js';
import { auditLog, models, modelVersions } from '../db/schema.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

describe('experiments and runs', () => {
  let t: TestApp;
  let owner: Session;
  let member: Session;
  let viewer: Session;
  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('owner');
    member = await t.client.joinOrg(owner, await t.client.register('member'), 'member');
    viewer = await t.client.joinOrg(owner, await t.client.register('viewer'), 'viewer');
  });
  afterAll(() => t.cleanup());

  const as = (s: Session) => ({
    get: (path: string) => t.client.call('GET', path, { token: s.accessToken }),
    post: (path: string, body: unknown) => t.client.call('POST', path, { token: s.accessToken, body }),
    patch: (path: string, body: unknown) => t.client.call('PATCH', path, { token: s.accessToken, body }),
    put: (path: string, body: unknown) => t.client.call('PUT', path, { token: s.accessToken, body }),
    del: (path: string) => t.client.call('DELETE', path, { token: s.accessToken }),
  });

  let counter = 0;
  const newExperiment = async (s: Session = owner) => {
    counter += 1;
    const res = await as(s).post('/v1/experiments', { name: `exp ${counter}` });
    expect(res.status).toBe(201);
    return res.json.id as string;
  };
  const newRun = async (s: Session = owner, body: Record<string, unknown> = {}) => {
    const res = await as(s).post(`/v1/experiments/${await newExperiment(s)}/runs`, body);
    expect(res.status).toBe(201);
    return res.json.id as string;
  };

  it('creates, lists, renames and deletes an experiment, auditing each change', async () => {
    const created = await as(owner).post('/v1/experiments', {
      name: 'sentiment',
      description: 'fine-tuning',
      tags: { team: 'nlp' },
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      name: 'sentiment',
      description: 'fine-tuning',
      tags: { team: 'nlp' },
    });
    expect(created.json.id).toMatch(/^exp_[0-9a-z]{26}$/);
    const id = created.json.id;

    const duplicate = await as(owner).post('/v1/experiments', { name: 'sentiment' });
    expect(duplicate.status).toBe(409);

    const listed = await as(viewer).get('/v1/experiments?limit=200');
    expect(listed.json.items.map((e: { id: string }) => e.id)).toContain(id);

    const renamed = await as(member).patch(`/v1/experiments/${id}`, { name: 'sentiment-v2' });
    expect(renamed.status).toBe(200);
    expect(renamed.json).toMatchObject({ name: 'sentiment-v2', description: 'fine-tuning' });

    const removed = await as(owner).del(`/v1/experiments/${id}`);
    expect(removed.status).toBe(200);
    expect((await as(owner).get(`/v1/experiments/${id}`)).status).toBe(404);

    const log = await as(owner).get('/v1/audit-log?limit=200');
    const actions = log.json.items
      .filter((e: { target: { id: string } }) => e.target.id === id)
      .map((e: { action: string }) => e.action);
    expect(actions).toEqual(['experiment.delete', 'experiment.update', 'experiment.create']);
    expect(await t.client.auditNames(owner.accessToken, 'experiment.update', id)).toEqual(['sentiment-v2']);
  });

  it('starts a run as running and ends it once, stamping endedAt', async () => {
    const experimentId = await newExperiment();
    const started = await as(member).post(`/v1/experiments/${experimentId}/runs`, {
      name: 'baseline',
      tags: { 'mlflow.source': 'notebook' },
    });
    expect(started.status).toBe(201);
    expect(started.json).toMatchObject({ experimentId, name: 'baseline', status: 'running', endedAt: null });
    expect(started.json.id).toMatch(/^run_/);
    const runPath = `/v1/runs/${started.json.id}`;

    const listed = await as(viewer).get(`/v1/experiments/${experimentId}/runs?status=running`);
    expect(listed.json.items).toHaveLength(1);

    const finished = await as(member).patch(runPath, { status: 'finished' });
    expect(finished.status).toBe(200);
    expect(finished.json.status).toBe('finished');
    expect(Date.parse(finished.json.endedAt)).toBeGreaterThanOrEqual(Date.parse(finished.json.startedAt));

    expect((await as(member).patch(runPath, { status: 'running' })).status).toBe(409);
    expect((await as(member).patch(runPath, { status: 'failed' })).status).toBe(409);
    const again = await as(member).patch(runPath, { status: 'finished' });
    expect(again.status).toBe(200);
    expect(again.json.endedAt).toBe(finished.json.endedAt);

    const shown = await as(viewer).get(runPath);
    expect(shown.json).toMatchObject({
      status: 'finished',
      tags: { 'mlflow.source': 'notebook' },
      params: {},
    });

    expect((await as(owner).get(`/v1/experiments/${experimentId}/runs?status=running`)).json.items).toEqual(
      [],
    );
    expect((await as(member).del(runPath)).status).toBe(200);
    expect((await as(member).get(runPath)).status).toBe(404);
  });

  it('refuses an endedAt before the run started or on a run that keeps running', async () => {
    const runId = await newRun(owner, { startedAt: '2024-05-01T10:00:00Z' });
    const early = await as(owner).patch(`/v1/runs/${runId}`, {
      status: 'killed',
      endedAt: '2024-05-01T09:00:00Z',
    });
    expect(early.status).toBe(400);
    const running = await as(owner).patch(`/v1/runs/${runId}`, { endedAt: '2024-05-01T11:00:00Z' });
    expect(running.status).toBe(400);
    const ended = await as(owner).patch(`/v1/runs/${runId}`, {
      status: 'killed',
      endedAt: '2024-05-01T11:00:00Z',
    });
    expect(ended.json).toMatchObject({ status: 'killed', endedAt: '2024-05-01T11:00:00.000Z' });
  });

  it('keeps params immutable: the same value again is fine, another value is 409', async () => {
    const runId = await newRun();
    const path = `/v1/runs/${runId}/params`;
    const first = await as(owner).post(path, { params: [{ key: 'lr', value: '0.01' }] });
    expect(first.status).toBe(200);
    expect((await as(owner).post(path, { params: [{ key: 'lr', value: '0.01' }] })).status).toBe(200);
    const changed = await as(owner).post(path, {
      params: [
        { key: 'epochs', value: '3' },
        { key: 'lr', value: '0.02' },
      ],
    });
    expect(changed.status).toBe(409);
    expect(changed.json.error.message).toContain('lr');
    const run = await as(owner).get(`/v1/runs/${runId}`);
    expect(run.json.params).toEqual({ lr: '0.01' });

    const twice = await as(owner).post(path, {
      params: [
        { key: 'bs', value: '1' },
        { key: 'bs', value: '2' },
      ],
    });
    expect(twice.status).toBe(400);
  });

  it('keeps metric histories ordered by step then timestamp and pages through them', async () => {
    const runId = await newRun();
    const points = [
      { key: 'train/loss', value: 0.5, step: 2, timestamp: '2024-05-01T10:00:02Z' },
      { key: 'train/loss', value: 0.9, step: 0, timestamp: '2024-05-01T10:00:00Z' },
      { key: 'train/loss', value: 0.7, step: 1, timestamp: '2024-05-01T10:00:05Z' },
      { key: 'train/loss', value: 0.6, step: 1, timestamp: '2024-05-01T10:00:01Z' },
      { key: 'acc', value: 0.8, step: 0 },
    ];
    const logged = await as(member).post(`/v1/runs/${runId}/metrics`, { metrics: points });
    expect(logged.json).toEqual({ metrics: 5 });
    await as(member).post(`/v1/runs/${runId}/metrics`, {
      metrics: [{ key: 'train/loss', value: 0.4, step: 3 }],
    });

    const key = encodeURIComponent('train/loss');
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const res = await as(viewer).get(`/v1/runs/${runId}/metrics/${key}/history?${query}`);
      expect(res.status).toBe(200);
      expect(res.json.key).toBe('train/loss');
      seen.push(...res.json.items.map((p: { value: number }) => p.value));
      cursor = res.json.nextCursor;
    } while (cursor);
    expect(seen).toEqual([0.9, 0.6, 0.7, 0.5, 0.4]);

    const run = await as(viewer).get(`/v1/runs/${runId}`);
    expect(run.json.metrics).toEqual([
      { key: 'acc', value: 0.8, step: 0, timestamp: expect.any(String) },
      { key: 'train/loss', value: 0.4, step: 3, timestamp: expect.any(String) },
    ]);
    const none = await as(viewer).get(`/v1/runs/${runId}/metrics/missing/history`);
    expect(none.json).toEqual({ key: 'missing', items: [], nextCursor: null });
    const badCursor = await as(viewer).get(`/v1/runs/${runId}/metrics/acc/history?cursor=nonsense`);
    expect(badCursor.status).toBe(400);
  });

  it('lists each run with its params, tags and latest metrics, to compare runs side by side', async () => {
    const experimentId = await newExperiment();
    const start = async (name: string, tags?: Record<string, string>) =>
      (await as(member).post(`/v1/experiments/${experimentId}/runs`, { name, ...(tags ? { tags } : {}) }))
        .json.id as string;
    const a = await start('a', { team: 'ocr' });
    const b = await start('b');
    await start('empty');
    const log = (id: string, body: unknown) => as(member).post(`/v1/runs/${id}/log-batch`, body);
    await log(a, {
      params: [{ key: 'lr', value: '0.1' }],
      metrics: [
        { key: 'loss', value: 0.9, step: 0 },
        { key: 'loss', value: 0.3, step: 2 },
        { key: 'loss', value: 0.5, step: 1 },
        { key: 'acc', value: 0.8, step: 2 },
      ],
    });
    // b's loss has a later step than any of a's: each run's latest is its own.
    await log(b, { params: [{ key: 'lr', value: '0.01' }], metrics: [{ key: 'loss', value: 0.2, step: 5 }] });

    const listed = await as(viewer).get(`/v1/experiments/${experimentId}/runs`);
    expect(listed.status).toBe(200);
    const point = (key: string, value: number, step: number) => ({
      key,
      value,
      step,
      timestamp: expect.any(String),
    });
    expect(listed.json.items).toEqual([
      expect.objectContaining({ name: 'empty', params: {}, tags: {}, metrics: [] }),
      expect.objectContaining({
        name: 'b',
        params: { lr: '0.01' },
        tags: {},
        metrics: [point('loss', 0.2, 5)],
      }),
      expect.objectContaining({
        name: 'a',
        params: { lr: '0.1' },
        tags: { team: 'ocr' },
        metrics: [point('acc', 0.8, 2), point('loss', 0.3, 2)],
      }),
    ]);
    // A page carries the same as each run's own GET.
    for (const item of listed.json.items) {
      const { modelVersions: _, ...detail } = (await as(viewer).get(`/v1/runs/${item.id}`)).json;
      expect(item).toEqual(detail);
    }
  });

  it('stores a log-batch sent again under its Idempotency-Key once, and refuses another body under it', async () => {
    const runId = await newRun(owner);
    const send = (body: unknown, key?: string) =>
      t.client.call('POST', `/v1/runs/${runId}/log-batch`, {
        token: member.accessToken,
        body,
        ...(key === undefined ? {} : { headers: { 'idempotency-key': key } }),
      });
    const body = { params: [{ key: 'lr', value: '0.1' }], metrics: [{ key: 'loss', value: 0.9, step: 0 }] };
    const first = await send(body, 'b1d4c7e0-5f1e-4c2b-9a77-0e5b1c3f2a10');
    expect(first.status).toBe(200);
    expect(first.json).toEqual({ params: 1, tags: 0, metrics: 1 });
    // The answer was lost; the client sends the same body again under the same key.
    const again = await send(body, 'b1d4c7e0-5f1e-4c2b-9a77-0e5b1c3f2a10');
    expect(again.status).toBe(200);
    expect(again.json).toEqual(first.json);
    const history = await as(owner).get(`/v1/runs/${runId}/metrics/loss/history`);
    expect(history.json.items).toHaveLength(1);
    expect(await t.client.auditNames(owner.accessToken, 'run.log_batch', runId)).toHaveLength(1);

    const other = await send(
      { metrics: [{ key: 'loss', value: 0.5, step: 1 }] },
      'b1d4c7e0-5f1e-4c2b-9a77-0e5b1c3f2a10',
    );
    expect(other.status).toBe(409);
    expect(other.json.error.message).toMatch(/another log-batch body/);
    // Without a key every body is stored; a key of another shape is refused before anything is.
    expect((await send({ metrics: [{ key: 'loss', value: 0.4, step: 2 }] })).status).toBe(200);
    expect((await send(body, 'two words')).status).toBe(400);
    expect((await as(owner).get(`/v1/runs/${runId}/metrics/loss/history`)).json.items).toHaveLength(2);
  });

  it('replaces the run tags with PUT', async () => {
    const runId = await newRun(owner, { tags: { a: '1', b: '2' } });
    const put = await as(member).put(`/v1/runs/${runId}/tags`, { tags: { b: '3', c: 'x'.repeat(8000) } });
    expect(put.status).toBe(200);
    const run = await as(owner).get(`/v1/runs/${runId}`);
    expect(run.json.tags).toEqual({ b: '3', c: 'x'.repeat(8000) });
    expect((await as(member).put(`/v1/runs/${runId}/tags`, { tags: { c: 'x'.repeat(8001) } })).status).toBe(
      400,
    );
  });

  it('rejects bad input with a 4xx envelope', async () => {
    const runId = await newRun();
    const metric = (m: Record<string, unknown>) =>
      as(owner).post(`/v1/runs/${runId}/metrics`, { metrics: [{ key: 'loss', value: 1, step: 0, ...m }] });
    const cases = [
      await metric({ step: -1 }),
      await metric({ step: 1.5 }),
      await metric({ value: 'NaN' }),
      await metric({ value: 'Infinity' }),
      await metric({ value: '1.0' }),
      await metric({ value: null }),
      await metric({ extra: true }),
      await metric({ key: '/abs' }),
      await metric({ key: 'a/../b' }),
      await metric({ key: 'semi;colon' }),
      await metric({ key: 'k'.repeat(251) }),
      await metric({ timestamp: 'yesterday' }),
      await as(owner).post(`/v1/runs/${runId}/metrics`, '{"metrics":[{"key":"loss","value":NaN,"step":0}]}'),
      // JSON.parse reads 1e400 as Infinity: still refused.
      await as(owner).post(
        `/v1/runs/${runId}/metrics`,
        '{"metrics":[{"key":"loss","value":1e400,"step":0}]}',
      ),
      await as(owner).post(
        `/v1/runs/${runId}/metrics`,
        '{"metrics":[{"key":"loss","value":1,"step":1e400}]}',
      ),
      await as(owner).post(`/v1/runs/${runId}/metrics`, { metrics: [] }),
      await as(owner).post(`/v1/runs/${runId}/params`, { params: [{ key: 'p', value: 'v'.repeat(6001) }] }),
      await as(owner).post(`/v1/runs/${runId}/params`, { params: [{ key: 'p', value: 1 }] }),
      await as(owner).post(`/v1/runs/${runId}/params`, { params: [{ key: 'p', value: 'v' }], extra: 1 }),
      await as(owner).put(`/v1/runs/${runId}/tags`, { tags: { '../etc': 'v' } }),
      await as(owner).patch(`/v1/runs/${runId}`, { status: 'paused' }),
      await as(owner).patch(`/v1/runs/${runId}`, { state: 'finished' }),
      await as(owner).patch(`/v1/runs/${runId}`, {}),
      await as(owner).post('/v1/experiments', { name: 'x', owner: 'me' }),
      await as(owner).post('/v1/experiments', { name: 'bad\nname' }),
      await as(owner).get('/v1/runs/not-an-id'),
      await as(owner).get(`/v1/runs/${runId}/metrics/${encodeURIComponent('/etc/passwd')}/history`),
    ];
    for (const res of cases) {
      expect(res.status).toBe(400);
      expect(res.json.error).toMatchObject({ code: expect.stringMatching(/validation_failed|invalid_json/) });
    }
    const run = await as(owner).get(`/v1/runs/${runId}`);
    expect(run.json.metrics).toEqual([]);
    expect(run.json.params).toEqual({});
  });

  it('lets viewers read but not write, members write, and read-scoped keys only read', async () => {
    const experimentId = await newExperiment(member);
    const runId = await newRun(member);
    expect((await as(viewer).get(`/v1/experiments/${experimentId}`)).status).toBe(200);
    expect((await as(viewer).get(`/v1/runs/${runId}`)).status).toBe(200);
    const writes = [
      await as(viewer).post('/v1/experiments', { name: 'viewer exp' }),
      await as(viewer).patch(`/v1/experiments/${experimentId}`, { description: 'x' }),
      await as(viewer).del(`/v1/experiments/${experimentId}`),
      await as(viewer).post(`/v1/experiments/${experimentId}/runs`, {}),
      await as(viewer).patch(`/v1/runs/${runId}`, { status: 'finished' }),
      await as(viewer).del(`/v1/runs/${runId}`),
      await as(viewer).post(`/v1/runs/${runId}/params`, { params: [{ key: 'a', value: 'b' }] }),
      await as(viewer).post(`/v1/runs/${runId}/metrics`, { metrics: [{ key: 'a', value: 1, step: 0 }] }),
      await as(viewer).put(`/v1/runs/${runId}/tags`, { tags: {} }),
      await as(viewer).post(`/v1/runs/${runId}/log-batch`, { params: [{ key: 'a', value: 'b' }] }),
    ];
    for (const res of writes) expect(res.status).toBe(403);

    const readKey = await t.client.createKey(owner, { scopes: ['models:read'] });
    const writeKey = await t.client.createKey(owner, { scopes: ['models:write'] });
    const predictKey = await t.client.createKey(owner, { scopes: ['predict'] });
    const call = (token: string, method: string, path: string, body?: unknown) =>
      t.client.call(method, path, { token, ...(body === undefined ? {} : { body }) });
    expect((await call(readKey.secret, 'GET', `/v1/runs/${runId}`)).status).toBe(200);
    expect((await call(readKey.secret, 'PATCH', `/v1/runs/${runId}`, { name: 'x' })).status).toBe(403);
    expect((await call(writeKey.secret, 'PATCH', `/v1/runs/${runId}`, { name: 'renamed' })).status).toBe(200);
    expect((await call(predictKey.secret, 'GET', `/v1/runs/${runId}`)).status).toBe(403);
  });

  it('lists the model versions that name the run, and only those of its own org', async () => {
    const runId = await newRun();
    const other = await t.client.register('other');
    const insertVersion = async (orgId: string, name: string) => {
      const modelId = newId('model');
      await t.db.insert(models).values({ id: modelId, orgId, name, tags: {}, updatedAt: new Date() });
      const id = newId('modelVersion');
      await t.db.insert(modelVersions).values({
        id,
        orgId,
        modelId,
        version: 1,
        status: 'ready',
        format: 'onnx',
        runtime: 'onnx',
        objectKey: `orgs/${orgId}/models/${modelId}/versions/${id}/model`,
        fileName: 'model.onnx',
        tags: {},
        metadata: {},
        runId,
      });
      return { id, modelId };
    };
    const mine = await insertVersion(owner.orgId, 'classifier');
    await insertVersion(other.orgId, 'intruder');
    const run = await as(viewer).get(`/v1/runs/${runId}`);
    expect(run.json.modelVersions).toEqual([
      {
        id: mine.id,
        modelId: mine.modelId,
        modelName: 'classifier',
        version: 1,
        status: 'ready',
        createdAt: expect.any(String),
      },
    ]);
  });

  it('audits every run mutation with the caller and request id', async () => {
    const runId = await newRun(member);
    await as(member).post(`/v1/runs/${runId}/params`, { params: [{ key: 'a', value: '1' }] });
    await as(member).post(`/v1/runs/${runId}/metrics`, { metrics: [{ key: 'm', value: 1, step: 0 }] });
    await as(member).put(`/v1/runs/${runId}/tags`, { tags: { t: 'v' } });
    await as(member).post(`/v1/runs/${runId}/log-batch`, { tags: [{ key: 'u', value: 'w' }] });
    await as(member).patch(`/v1/runs/${runId}`, { status: 'failed' });
    const rows = await t.db.select().from(auditLog).orderBy(sql`rowid`);
    const actions = rows.filter((r) => r.targetId === runId).map((r) => [r.action, r.actorId]);
    expect(actions).toEqual([
      ['run.create', member.userId],
      ['run.log_params', member.userId],
      ['run.log_metrics', member.userId],
      ['run.set_tags', member.userId],
      ['run.log_batch', member.userId],
      ['run.update', member.userId],
    ]);
    // What was logged is named by the run's name, as people read the log.
    const runName = (await as(member).get(`/v1/runs/${runId}`)).json.name;
    const logged = rows.filter((r) => r.targetId === runId && r.action.startsWith('run.log'));
    expect(logged.map((r) => r.metadata?.name)).toEqual([runName, runName, runName]);
    expect(await t.client.auditNames(owner.accessToken, 'run.update', runId)).toEqual([runName]);
  });

  it('documents every experiment and run route in /openapi.json', async () => {
    const doc = (await t.client.call('GET', '/openapi.json')).json;
    const ops = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(ops).toEqual(
      expect.arrayContaining([
        'POST /v1/experiments',
        'GET /v1/experiments',
        'GET /v1/experiments/{id}',
        'PATCH /v1/experiments/{id}',
        'DELETE /v1/experiments/{id}',
        'POST /v1/experiments/{id}/runs',
        'GET /v1/experiments/{id}/runs',
        'GET /v1/runs/{id}',
        'PATCH /v1/runs/{id}',
        'DELETE /v1/runs/{id}',
        'POST /v1/runs/{id}/params',
        'POST /v1/runs/{id}/metrics',
        'PUT /v1/runs/{id}/tags',
        'POST /v1/runs/{id}/log-batch',
        'GET /v1/runs/{id}/metrics/{key}/history',
        'PUT /v1/runs/{id}/artifacts',
        'GET /v1/runs/{id}/artifacts',
        'GET /v1/runs/{id}/artifacts/content',
        'DELETE /v1/runs/{id}/artifacts',
      ]),
    );
  });
});
