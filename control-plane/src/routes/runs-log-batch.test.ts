import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type Session } from '../../testing/test-app.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

const metrics = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ key: `m${i % 7}`, value: i / 3, step: i }));
const entries = (n: number, prefix: string) =>
  Array.from({ length: n }, (_, i) => ({ key: `${prefix}${i}`, value: `${i}` }));

describe('POST /v1/runs/{id}/log-batch', () => {
  let t: TestApp;
  let owner: Session;
  let runId: string;
  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('owner');
    const experiment = await t.client.call('POST', '/v1/experiments', {
      token: owner.accessToken,
      body: { name: 'batch' },
    });
    const run = await t.client.call('POST', `/v1/experiments/${experiment.json.id}/runs`, {
      token: owner.accessToken,
      body: {},
    });
    runId = run.json.id;
  });
  afterAll(() => t.cleanup());

  const batch = (body: unknown) =>
    t.client.call('POST', `/v1/runs/${runId}/log-batch`, { token: owner.accessToken, body });
  const history = async (key: string) =>
    (
      await t.client.call('GET', `/v1/runs/${runId}/metrics/${key}/history?limit=1000`, {
        token: owner.accessToken,
      })
    ).json.items;

  it("accepts MLflow's maxima in one batch", async () => {
    const res = await batch({ metrics: metrics(800), params: entries(100, 'p'), tags: entries(100, 't') });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ metrics: 800, params: 100, tags: 100 });
    const run = await t.client.call('GET', `/v1/runs/${runId}`, { token: owner.accessToken });
    expect(Object.keys(run.json.params)).toHaveLength(100);
    expect(Object.keys(run.json.tags)).toHaveLength(100);
    expect(await history('m0')).toHaveLength(Math.ceil(800 / 7));
  });

  it.each([
    ['metrics', { metrics: metrics(1001) }, '1000 metrics'],
    ['params', { params: entries(101, 'q') }, '100 params'],
    ['tags', { tags: entries(101, 'u') }, '100 tags'],
    [
      'entries',
      { metrics: metrics(950), params: entries(51, 'q') },
      '1000 metrics, params and tags together',
    ],
  ])('answers 400 naming the limit for too many %s', async (_what, body, limit) => {
    const res = await batch(body);
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('validation_failed');
    expect(JSON.stringify(res.json.error.details)).toContain(`at most ${limit}`);
  });

  it('answers 413 for a body over 1 MB even when every count is within its limit', async () => {
    const body = JSON.stringify({
      params: entries(100, 'big').map((p) => ({ ...p, value: 'v'.repeat(6000) })),
      tags: entries(52, 'big').map((p) => ({ ...p, value: 'v'.repeat(8000) })),
    });
    // Over MLflow's 1,000,000 bytes, under the app-wide 1 MiB, so only the batch limit can refuse it.
    expect(body.length).toBeGreaterThan(1_000_000);
    expect(body.length).toBeLessThan(1024 * 1024);
    const res = await batch(body);
    expect(res.status).toBe(413);
    expect(res.json.error).toMatchObject({
      code: 'payload_too_large',
      message: expect.stringContaining('1000000'),
    });
  });

  it('lands all of a batch or none of it: a conflicting param leaves none of its metrics or tags', async () => {
    await batch({ params: [{ key: 'seed', value: '1' }] });
    const res = await batch({
      metrics: [{ key: 'atomic', value: 1, step: 0 }],
      tags: [{ key: 'atomic-tag', value: 'x' }],
      params: [
        { key: 'fresh', value: 'new' },
        { key: 'seed', value: '2' },
      ],
    });
    expect(res.status).toBe(409);
    expect(await history('atomic')).toEqual([]);
    const run = await t.client.call('GET', `/v1/runs/${runId}`, { token: owner.accessToken });
    expect(run.json.params.seed).toBe('1');
    expect(run.json.params).not.toHaveProperty('fresh');
    expect(run.json.tags).not.toHaveProperty('atomic-tag');
  });

  it('lands nothing when one metric in the batch is invalid', async () => {
    const res = await batch({
      metrics: [
        { key: 'partial', value: 1, step: 0 },
        { key: 'partial', value: 2, step: -1 },
      ],
    });
    expect(res.status).toBe(400);
    expect(res.json.error.details[0].path).toBe('metrics.1.step');
    expect(await history('partial')).toEqual([]);
  });

  it('refuses unknown fields in the batch and in its entries', async () => {
    expect((await batch({ metrics: [], extra: [] })).status).toBe(400);
    expect((await batch({ tags: [{ key: 'a', value: 'b', ttl: 1 }] })).status).toBe(400);
  });
});
