import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MeridianClient, Tokens } from '@meridian/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCaptured } from '../cli/src/main-captured.test-helper.js';
import { newSdkUser, startProxiedControlPlane } from './helpers/sdk-users.js';

/**
 * `meridian models push --run`, run in this process against a real control plane (no agent or edge: a
 * push needs neither): the version names the run it came from, and the run lists the version.
 */
describe('models push --run', () => {
  let platform: Awaited<ReturnType<typeof startProxiedControlPlane>>;
  let client: MeridianClient;
  let token = '';
  let files = '';

  const cli = (...args: string[]) =>
    runCaptured(args, {
      MERIDIAN_CONFIG_DIR: join(platform.dir, 'config'),
      MERIDIAN_API_URL: platform.proxy.url,
      MERIDIAN_TOKEN: token,
    });
  const push = async (name: string, ...args: string[]) => {
    const file = join(files, `${name}-${Date.now()}.pt`);
    await writeFile(file, randomBytes(2048));
    return cli('models', 'push', file, '--name', 'digits', ...args);
  };
  const startRun = async (experimentId: string, name: string) =>
    (
      await client.request('post', '/v1/experiments/{id}/runs', {
        path: { id: experimentId },
        body: { name },
      })
    ).id;

  beforeAll(async () => {
    platform = await startProxiedControlPlane('cli-models-run-');
    files = join(platform.dir, 'files');
    await mkdir(files);
    const user = await newSdkUser(platform.proxy.url, 'pusher');
    client = user.client;
    token = ((await user.store.load()) as Tokens).accessToken;
  }, 150_000);

  afterAll(async () => {
    await platform?.stop();
  });

  it('links the version to a run named EXPERIMENT/RUN-NAME or by id, and the run lists it', async () => {
    const sentiment = await client.request('post', '/v1/experiments', { body: { name: 'sentiment' } });
    // A name holding a slash: the experiment is the longest part before a slash that names one.
    const nested = await client.request('post', '/v1/experiments', { body: { name: 'sentiment/v2' } });
    const baseline = await startRun(sentiment.id, 'baseline');
    const v2 = await startRun(nested.id, 'baseline');

    const first = await push('a', '--run', 'sentiment/baseline', '--json');
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ version: 1, runId: baseline, status: 'ready' });

    const second = await push('b', '--run', 'sentiment/v2/baseline');
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(
      new RegExp(`^Pushed digits version 2 .*\\nFrom run baseline \\(${v2}\\)\\n$`),
    );

    const third = await push('c', '--run', baseline, '--json');
    expect(third.code, third.stderr).toBe(0);
    expect(JSON.parse(third.stdout)).toMatchObject({ version: 3, runId: baseline });

    const detail = await client.request('get', '/v1/runs/{id}', { path: { id: baseline } });
    expect(detail.modelVersions.map((v) => [v.modelName, v.version]).sort()).toEqual([
      ['digits', 1],
      ['digits', 3],
    ]);
    const versions = await client.request('get', '/v1/models/{id}/versions', {
      path: { id: detail.modelVersions[0]?.modelId ?? '' },
    });
    expect(versions.items.map((v) => [v.version, v.runId])).toEqual([
      [3, baseline],
      [2, v2],
      [1, baseline],
    ]);
  }, 60_000);

  it('refuses a run it cannot find, as runs show does, before anything is created or sent', async () => {
    const missing = await push('d', '--run', 'sentiment/nope');
    expect([missing.code, missing.stderr]).toEqual([
      1,
      'meridian: No run named nope in experiment sentiment (meridian runs list EXPERIMENT)\n',
    ]);
    // A name two runs share (in sentiment and in sentiment/v2) is refused with their ids.
    const ambiguous = await push('e', '--run', 'baseline');
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.stderr).toMatch(
      /^meridian: 2 runs are named baseline \(.+\): give the id of the one you mean\n$/,
    );
    const models = await client.request('get', '/v1/models/{id}/versions', {
      path: {
        id: (await client.request('get', '/v1/models', { query: { name: 'digits' } })).items[0]?.id ?? '',
      },
    });
    expect(models.items).toHaveLength(3);
  }, 60_000);
});
