import { randomBytes } from 'node:crypto';
import {
  ConflictError,
  collect,
  type MeridianClient,
  memorySource,
  NetworkError,
  startRun,
  uploadModelVersion,
  withRun,
} from '@meridian/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newSdkUser, startProxiedControlPlane } from './helpers/sdk-users.js';

/**
 * The SDK's run logger (`startRun`, `withRun`) as a training script uses it, against a real control plane
 * reached through a TCP proxy that can take the network away.
 */
describe('experiment tracking from the SDK', () => {
  let platform: Awaited<ReturnType<typeof startProxiedControlPlane>>;
  let proxy: (typeof platform)['proxy'];
  const newUser = (name: string) => newSdkUser(proxy.url, name);
  /** The log-batch calls a client sent (a lost one is listed once more as `failed …`: not counted). */
  const logBatches = (calls: string[]) =>
    calls.filter((c) => c.startsWith('POST') && c.endsWith('/log-batch'));

  const history = (client: MeridianClient, runId: string, key: string) =>
    collect(
      client.list('/v1/runs/{id}/metrics/{key}/history', {
        path: { id: runId, key },
        query: { limit: 1000 },
      }),
    );

  beforeAll(async () => {
    platform = await startProxiedControlPlane('sdk-tracking-');
    ({ proxy } = platform);
  }, 150_000);

  afterAll(async () => {
    await platform?.stop();
  });

  it('logs a training loop in a few log-batch calls and ends the run finished', async () => {
    const { client, calls } = await newUser('trainer');
    const result = await withRun(
      client,
      {
        experiment: 'mnist',
        name: 'baseline',
        params: { lr: 0.001, epochs: 5, augment: true },
        tags: { team: 'vision' },
      },
      async (run) => {
        for (let step = 0; step < 1200; step++)
          run.logMetrics({ loss: 1 / (step + 1), accuracy: step / 1200 });
        run.logMetric('val_loss', 0.25, 1199);
        run.setTags({ stage: 'trained' });
        await run.logArtifact('notes/summary.txt', 'loss fell', 'text/plain');
        return run.run.id;
      },
    );
    // The params when the run started, then 2,401 points and a tag in bodies of at most 1,000 entries.
    expect(logBatches(calls)).toHaveLength(4);

    const detail = await client.request('get', '/v1/runs/{id}', { path: { id: result } });
    expect(detail).toMatchObject({
      name: 'baseline',
      status: 'finished',
      params: { lr: '0.001', epochs: '5', augment: 'true' },
      tags: { team: 'vision', stage: 'trained' },
    });
    expect(detail.endedAt).not.toBeNull();
    const loss = await history(client, result, 'loss');
    expect(loss.map((p) => p.step)).toEqual(Array.from({ length: 1200 }, (_, i) => i));
    expect(loss.map((p) => p.value)).toEqual(Array.from({ length: 1200 }, (_, i) => 1 / (i + 1)));
    expect((await history(client, result, 'val_loss')).map((p) => [p.step, p.value])).toEqual([[1199, 0.25]]);
    const artifacts = await client.request('get', '/v1/runs/{id}/artifacts', { path: { id: result } });
    expect(artifacts.items.map((a) => [a.path, a.sizeBytes])).toEqual([['notes/summary.txt', 9]]);

    // The experiment was created by name once; a second run joins it.
    const again = await startRun(client, { experiment: 'mnist', flushIntervalMs: 0 });
    expect(again.experiment.id).toBe(detail.experimentId);
    expect((await again.end()).status).toBe('finished');
    const experiments = await collect(client.list('/v1/experiments'));
    expect(experiments.map((e) => e.name)).toEqual(['mnist']);
  }, 60_000);

  it('links the versions a run uploads to that run, with their tags and metadata, whatever their size', async () => {
    const { client } = await newUser('exporter');
    const run = await startRun(client, { experiment: 'digits', name: 'export', flushIntervalMs: 0 });
    const model = await client.request('post', '/v1/models', { body: { name: 'digits' } });
    const linked = { runId: run.run.id, tags: { stage: 'candidate' }, metadata: { accuracy: 0.97 } };
    const MiB = 1024 * 1024;
    // One request (a small file), then a multipart upload (a file larger than one 5 MiB part).
    const whole = await uploadModelVersion(client, {
      modelId: model.id,
      source: memorySource('model.pt', randomBytes(1024)),
      ...linked,
    });
    const multipart = await uploadModelVersion(client, {
      modelId: model.id,
      source: memorySource('model.pt', randomBytes(5 * MiB + 1)),
      partSize: 5 * MiB,
      ...linked,
    });
    for (const version of [whole, multipart]) expect(version).toMatchObject({ status: 'ready', ...linked });
    expect(multipart.version).toBe(whole.version + 1);
    await run.end();
    const detail = await client.request('get', '/v1/runs/{id}', { path: { id: run.run.id } });
    expect(detail.modelVersions.map((v) => [v.modelName, v.version]).sort()).toEqual([
      ['digits', whole.version],
      ['digits', multipart.version],
    ]);
  }, 60_000);

  it('keeps the points while the control plane cannot be reached, and sends each once when it can', async () => {
    const { client } = await newUser('offline');
    const run = await startRun(client, { experiment: 'offline', flushIntervalMs: 0, maxPending: 15 });
    for (let i = 0; i < 10; i++) run.logMetric('loss', i);
    proxy.cutAfter(0);
    try {
      await expect(run.flush()).rejects.toBeInstanceOf(NetworkError);
      for (let i = 10; i < 15; i++) run.logMetric('loss', i);
      // The bound counts what failed to go as well as what was logged since: memory stays bounded.
      expect(() => run.logMetric('loss', 15)).toThrow(/15 metric points are waiting to be sent/);
      await expect(run.end()).rejects.toBeInstanceOf(NetworkError);
    } finally {
      await proxy.restore();
    }
    expect((await run.end()).status).toBe('finished');
    const points = await history(client, run.run.id, 'loss');
    expect(points.map((p) => [p.step, p.value])).toEqual(Array.from({ length: 15 }, (_, i) => [i, i]));
  }, 30_000);

  it('stores a body once when its answer was lost and the logger sends it again', async () => {
    const { client, calls } = await newUser('lost-answer');
    const run = await startRun(client, { experiment: 'lost answers', flushIntervalMs: 0 });
    for (let i = 0; i < 5; i++) run.logMetric('loss', i);
    // The control plane stores the body; its answer never comes back.
    proxy.loseAnswers(1);
    await expect(run.flush()).rejects.toBeInstanceOf(NetworkError);
    run.logMetric('loss', 5);
    expect((await run.end()).status).toBe('finished');
    // The lost body went again under its key (stored once), then the new point in a body of its own.
    expect(logBatches(calls)).toHaveLength(3);
    const points = await history(client, run.run.id, 'loss');
    expect(points.map((p) => [p.step, p.value])).toEqual(Array.from({ length: 6 }, (_, i) => [i, i]));
  }, 30_000);

  it('throws a batch the server refused at the next flush, and ends a run whose work threw as failed', async () => {
    const { client } = await newUser('refused');
    const run = await startRun(client, { experiment: 'refusals', flushIntervalMs: 50 });
    // Another process logged lr first; params are immutable, so the server refuses this one (409).
    await client.request('post', '/v1/runs/{id}/log-batch', {
      path: { id: run.run.id },
      body: { params: [{ key: 'lr', value: '0.1' }] },
    });
    run.logParams({ lr: 0.2 });
    run.logMetric('loss', 1);
    // The background flush (every 50 ms) meets the refusal; the next flush is where the caller hears of it.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await expect(run.flush()).rejects.toBeInstanceOf(ConflictError);
    // Refused once, reported once: only the params' body was dropped; the metric went on its own.
    run.logMetric('loss', 0.5);
    await run.end();
    expect((await history(client, run.run.id, 'loss')).map((p) => p.value)).toEqual([1, 0.5]);
    expect((await client.request('get', '/v1/runs/{id}', { path: { id: run.run.id } })).params).toEqual({
      lr: '0.1',
    });

    // Bad input is refused where it is logged, before anything is sent.
    const checked = await startRun(client, { experiment: 'refusals', flushIntervalMs: 0 });
    expect(() => checked.logMetric('loss', Number.NaN)).toThrow(/not a finite number/);
    expect(() => checked.logMetric('../etc', 1)).toThrow(/not valid/);
    expect(() => checked.logMetric('loss', 1, -1)).toThrow(/step -1/);
    checked.logParams({ seed: 1 });
    expect(() => checked.logParams({ seed: 2 })).toThrow(/immutable/);

    const failure = new Error('out of memory');
    await expect(
      withRun(client, { experiment: 'refusals', name: 'oom' }, async () => Promise.reject(failure)),
    ).rejects.toBe(failure);
    const runs = await collect(
      client.list('/v1/experiments/{id}/runs', { path: { id: checked.experiment.id } }),
    );
    expect(runs.find((r) => r.name === 'oom')?.status).toBe('failed');
  }, 30_000);
});
