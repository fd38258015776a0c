import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeApi } from '../fake-api.test-helper.js';

const notebook = {
  id: 'nb_1',
  name: 'lab',
  ownerId: 'usr_1',
  gpuType: 't4',
  gpuCount: 2,
  image: 'jupyter',
  idleTimeoutSeconds: 7200,
  desired: 'running',
  status: 'pending',
  statusReason: null,
  lastActivityAt: null,
  token: null,
  accessUrl: null,
  endpoint: null,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
};

describe('meridian notebooks create', () => {
  let api: Awaited<ReturnType<typeof fakeApi>>;
  beforeAll(async () => {
    api = await fakeApi();
  });
  afterAll(() => api.close());

  const created = { 'POST /v1/notebooks': { status: 201, body: notebook } };

  it('takes --idle-timeout as every duration flag does (2h, 90m, 45s, plain seconds)', async () => {
    for (const [given, seconds] of [
      ['2h', 7200],
      ['90m', 5400],
      ['45s', 45],
      ['600', 600],
      ['7d', 604_800],
      ['5s', 5],
    ] as const) {
      api.answer(created);
      const run = await api.run(['notebooks', 'create', 'lab', '--idle-timeout', given]);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(api.received.map((r) => r.body)).toEqual([
        { name: 'lab', gpuType: 'cpu', idleTimeoutSeconds: seconds },
      ]);
    }
  });

  it.each([
    ['4s', /--idle-timeout must be from 5s to 7d, not 4s/],
    ['8d', /--idle-timeout must be from 5s to 7d, not 8d/],
    ['0', /--idle-timeout must be from 5s to 7d, not 0/],
    ['soon', /--idle-timeout wants a duration such as 90s, 5m, 2h or 1d, not soon/],
    ['1.5h', /--idle-timeout wants a duration/],
  ])('refuses --idle-timeout %s as usage (exit 2) before any request', async (given, message) => {
    api.answer(created);
    const run = await api.run(['notebooks', 'create', 'lab', '--idle-timeout', given]);
    expect(run.stderr).toMatch(message);
    expect(run.code).toBe(2);
    expect(api.received).toEqual([]);
  });

  it('sends --gpus as the GPU count of --gpu’s type', async () => {
    api.answer(created);
    const run = await api.run(['notebooks', 'create', 'lab', '--gpu', 't4', '--gpus', '2']);
    expect(run.code).toBe(0);
    expect(api.received.map((r) => r.body)).toEqual([{ name: 'lab', gpuType: 't4', gpuCount: 2 }]);

    api.answer(created);
    await api.run(['notebooks', 'create', 'lab', '--gpu', 'v100']);
    expect(api.received[0]?.body).not.toHaveProperty('gpuCount');
  });

  it.each([
    [['--gpu', 't4', '--gpus', '0'], /--gpus wants a whole number from 1 to 8, not 0/],
    [['--gpu', 't4', '--gpus', '9'], /--gpus wants a whole number from 1 to 8, not 9/],
    [['--gpu', 't4', '--gpus', '1.5'], /--gpus wants a whole number from 1 to 8, not 1\.5/],
    [['--gpu', 't4', '--gpus', 'two'], /--gpus wants a whole number/],
    [['--gpus', '2'], /--gpus needs a GPU type: give --gpu t4, v100 or rtx4090/],
    [['--gpu', 'cpu', '--gpus', '1'], /--gpus needs a GPU type/],
  ])('refuses %j as usage (exit 2) before any request', async (flags, message) => {
    api.answer(created);
    const run = await api.run(['notebooks', 'create', 'lab', ...flags]);
    expect(run.stderr).toMatch(message);
    expect(run.code).toBe(2);
    expect(api.received).toEqual([]);
  });
});
