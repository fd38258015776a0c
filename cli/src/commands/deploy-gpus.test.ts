import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeApi } from '../fake-api.test-helper.js';

const model = { id: 'mdl_1', name: 'ocr-cls', latestVersion: 1, aliases: [] };
const deployment = (over: Record<string, unknown> = {}) => ({
  id: 'dep_1',
  name: 'ocr-cls',
  modelId: 'mdl_1',
  modelName: 'ocr-cls',
  version: { version: 1 },
  status: 'pending',
  gpuType: 't4',
  gpuCount: 2,
  image: null,
  rollout: null,
  ...over,
});

describe('meridian deploy --gpus', () => {
  let api: Awaited<ReturnType<typeof fakeApi>>;
  beforeAll(async () => {
    api = await fakeApi();
  });
  afterAll(() => api.close());

  const fresh = {
    'GET /v1/models': { items: [model] },
    'GET /v1/deployments': { items: [] },
    'POST /v1/deployments': { status: 201, body: deployment() },
  };

  it('creates the deployment with that many GPUs of --gpu’s type per replica', async () => {
    api.answer(fresh);
    const run = await api.run(['deploy', 'ocr-cls', '--gpu', 't4', '--gpus', '2']);
    expect(run.code, run.stderr).toBe(0);
    const created = api.received.find((r) => r.method === 'POST');
    expect(created?.body).toEqual({
      name: 'ocr-cls',
      model: 'mdl_1',
      version: 1,
      gpuType: 't4',
      gpuCount: 2,
    });

    api.answer(fresh);
    await api.run(['deploy', 'ocr-cls', '--gpu', 'v100']);
    expect(api.received.find((r) => r.method === 'POST')?.body).not.toHaveProperty('gpuCount');
  });

  it.each([
    [['--gpu', 't4', '--gpus', '0'], /--gpus wants a whole number from 1 to 8, not 0/],
    [['--gpu', 't4', '--gpus', '9'], /--gpus wants a whole number from 1 to 8, not 9/],
    [['--gpu', 't4', '--gpus', '-1'], /--gpus wants a whole number from 1 to 8, not -1/],
    [['--gpu', 't4', '--gpus', 'all'], /--gpus wants a whole number/],
    [['--gpu', 'cpu', '--gpus', '2'], /--gpus needs a GPU type/],
  ])('refuses %j as usage (exit 2) before any request', async (flags, message) => {
    api.answer(fresh);
    const run = await api.run(['deploy', 'ocr-cls', ...flags]);
    expect(run.stderr).toMatch(message);
    expect(run.code).toBe(2);
    expect(api.received).toEqual([]);
  });

  it('refuses --gpus without --gpu for a new deployment (cpu by default), and creates nothing', async () => {
    api.answer(fresh);
    const run = await api.run(['deploy', 'ocr-cls', '--gpus', '1']);
    expect(run.stderr).toMatch(/--gpus needs a GPU type: give --gpu t4, v100 or rtx4090/);
    expect(run.code).toBe(2);
    expect(api.received.filter((r) => r.method !== 'GET')).toEqual([]);
  });

  it('takes --gpus without --gpu on an existing deployment of a GPU type, which it keeps', async () => {
    const existing = deployment({ status: 'ready' });
    api.answer({
      ...fresh,
      'GET /v1/deployments': { items: [existing] },
      'PATCH /v1/deployments/dep_1': { status: 200, body: existing },
    });
    const run = await api.run(['deploy', 'ocr-cls', '--gpus', '2', '--min', '1']);
    expect(run.code, run.stderr).toBe(0);
    expect(api.received.filter((r) => r.method === 'PATCH').map((r) => r.body)).toEqual([{ minReplicas: 1 }]);
  });

  it('refuses a different --gpus on an existing deployment rather than ignoring it', async () => {
    api.answer({ ...fresh, 'GET /v1/deployments': { items: [deployment({ status: 'ready' })] } });
    const run = await api.run(['deploy', 'ocr-cls', '--gpu', 't4', '--gpus', '4', '--min', '1']);
    expect(run.stderr).toContain('ocr-cls exists, and --gpus (it has 2) cannot change on it');
    expect(run.code).toBe(2);
    expect(api.received.filter((r) => r.method !== 'GET')).toEqual([]);
  });
});
