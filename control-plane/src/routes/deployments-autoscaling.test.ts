import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newModel, uploadVersion } from '../../testing/models.js';
import { createTestApp, type Session } from '../../testing/test-app.js';
import { REAL_MODELS } from '../onnx/test-models.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

describe('deployment autoscaling settings', () => {
  let t: TestApp;
  let owner: Session;
  let model: string;
  let names = 0;
  const call = (method: string, path: string, body?: unknown) =>
    t.client.call(method, path, { token: owner.accessToken, ...(body === undefined ? {} : { body }) });
  const deploy = (body: Record<string, unknown>) => {
    names += 1;
    return call('POST', '/v1/deployments', {
      name: `as-${names}`,
      model,
      version: 1,
      gpuType: 'cpu',
      ...body,
    });
  };
  const refusal = (res: { status: number; json: { error: { details?: unknown } } }) => ({
    status: res.status,
    details: res.json.error.details,
  });

  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('owner');
    model = await newModel(t.app, owner.accessToken, 'cls');
    const up = await uploadVersion(
      t.app,
      owner.accessToken,
      model,
      'cls.onnx',
      readFileSync(REAL_MODELS.paddleCls),
    );
    if (up.status !== 201) throw new Error(`upload: ${up.status} ${up.text}`);
  });
  afterAll(() => t.cleanup());

  it('takes every setting at creation and shows it, with one replica wanted to start', async () => {
    const res = await deploy({
      minReplicas: 0,
      maxReplicas: 4,
      targetConcurrency: 8,
      scaleUpDelaySeconds: 5,
      scaleDownDelaySeconds: 120,
      scaleToZeroAfterSeconds: 600,
      holdTimeoutSeconds: 90,
    });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({
      minReplicas: 0,
      maxReplicas: 4,
      targetConcurrency: 8,
      scaleUpDelaySeconds: 5,
      scaleDownDelaySeconds: 120,
      scaleToZeroAfterSeconds: 600,
      holdTimeoutSeconds: 90,
      desiredReplicas: 1,
    });
    const got = await call('GET', `/v1/deployments/${res.json.id}`);
    expect(got.json.scaleToZeroAfterSeconds).toBe(600);
  });

  it('fills in defaults: target 16, no scale-to-zero with minReplicas 1, 300 s with minReplicas 0', async () => {
    const plain = await deploy({});
    expect(plain.json).toMatchObject({
      minReplicas: 1,
      maxReplicas: 1,
      targetConcurrency: 16,
      scaleUpDelaySeconds: 0,
      scaleDownDelaySeconds: 30,
      scaleToZeroAfterSeconds: null,
      holdTimeoutSeconds: 30,
    });
    const toZero = await deploy({ minReplicas: 0 });
    expect(toZero.json).toMatchObject({ minReplicas: 0, maxReplicas: 1, scaleToZeroAfterSeconds: 300 });
  });

  it('changes settings by PATCH, records them in an event and keeps the target within the new bounds', async () => {
    const { json: dep } = await deploy({ minReplicas: 1, maxReplicas: 2 });
    const res = await call('PATCH', `/v1/deployments/${dep.id}`, {
      minReplicas: 3,
      maxReplicas: 6,
      targetConcurrency: 4,
      scaleDownDelaySeconds: 0,
      holdTimeoutSeconds: 5,
    });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      minReplicas: 3,
      maxReplicas: 6,
      targetConcurrency: 4,
      holdTimeoutSeconds: 5,
      desiredReplicas: 3,
    });
    const events = await call('GET', `/v1/deployments/${dep.id}/events`);
    const updated = events.json.items.find((e: { type: string }) => e.type === 'updated');
    expect(updated.message).toContain('targetConcurrency 16 → 4');

    const toZero = await call('PATCH', `/v1/deployments/${dep.id}`, {
      minReplicas: 0,
      scaleToZeroAfterSeconds: 60,
    });
    expect(toZero.json).toMatchObject({ minReplicas: 0, scaleToZeroAfterSeconds: 60 });
    // Raising minReplicas again turns scale-to-zero off rather than leaving a setting that cannot apply.
    const back = await call('PATCH', `/v1/deployments/${dep.id}`, { minReplicas: 1 });
    expect(back.json).toMatchObject({ minReplicas: 1, scaleToZeroAfterSeconds: null });
  });

  it('refuses minReplicas above maxReplicas, naming the field', async () => {
    expect(refusal(await deploy({ minReplicas: 5, maxReplicas: 2 }))).toEqual({
      status: 400,
      details: [{ path: 'maxReplicas', message: expect.stringContaining('minReplicas (5)') }],
    });
    const { json: dep } = await deploy({ maxReplicas: 3 });
    expect(refusal(await call('PATCH', `/v1/deployments/${dep.id}`, { minReplicas: 4 }))).toEqual({
      status: 400,
      details: [{ path: 'minReplicas', message: expect.stringContaining('maxReplicas (3)') }],
    });
  });

  it('refuses scaleToZeroAfterSeconds with minReplicas 1 or more, naming the conflict', async () => {
    const res = await deploy({ minReplicas: 1, scaleToZeroAfterSeconds: 60 });
    expect(refusal(res)).toEqual({
      status: 400,
      details: [{ path: 'scaleToZeroAfterSeconds', message: expect.stringContaining('minReplicas 1') }],
    });
    const { json: dep } = await deploy({ minReplicas: 2, maxReplicas: 2 });
    const patch = await call('PATCH', `/v1/deployments/${dep.id}`, { scaleToZeroAfterSeconds: 30 });
    expect(patch.status).toBe(400);
    expect(patch.json.error.details[0].path).toBe('scaleToZeroAfterSeconds');
  });

  it.each([
    ['targetConcurrency', 0],
    ['scaleUpDelaySeconds', -1],
    ['scaleDownDelaySeconds', 100_000],
    ['scaleToZeroAfterSeconds', 0],
    ['maxReplicas', 0],
    ['minReplicas', 21],
    ['targetConcurrency', 1.5],
    ['holdTimeoutSeconds', 0],
    ['holdTimeoutSeconds', 301],
    ['holdTimeoutSeconds', '30'],
  ])('refuses %s %s with a 400 naming the field', async (field, value) => {
    const res = await deploy({ minReplicas: 0, [field]: value });
    expect(res.status).toBe(400);
    expect(res.json.error.details.map((d: { path: string }) => d.path)).toContain(field);
  });
});
