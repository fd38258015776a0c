import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REAL_MODELS } from '../control-plane/src/onnx/test-models.js';
import { buildCli, type CliResult } from './helpers/cli.js';
import { type Stack, startStack } from './helpers/stack.js';

/**
 * `meridian deploy NAME --min 1` on a deployment scaled to zero, as a user following the README does: the
 * change is answered before the scheduler places a replica, and the CLI once printed `idle` (the status from
 * before the change) and stopped there even with --wait. Real control plane, CPU agent and edge.
 */
describe('meridian deploy on a deployment at zero', () => {
  let stack: Stack;
  let cli: Awaited<ReturnType<typeof buildCli>>;
  let home = '';
  const env = () => ({
    HOME: home,
    MERIDIAN_CONFIG_DIR: join(home, 'config'),
    MERIDIAN_API_URL: stack.cp.url,
    MERIDIAN_EDGE_URL: stack.edge.url,
  });
  const ok = (r: CliResult) => {
    expect(r.code, `exit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`).toBe(0);
    return r;
  };
  const shown = async (name: string) =>
    JSON.parse(ok(await cli.run(['deployments', 'get', name, '--json'])).stdout) as {
      status: string;
      statusReason: string | null;
      replicas: { total: number };
    };
  const statusOf = async (name: string) => (await shown(name)).status;
  /**
   * Lets it go to zero (no call, a 1 s idle window, a short autoscaler window): its last replica retires (out
   * of routing, stopped after MERIDIAN_ROLLOUT_RETIRE_SECONDS) while it reads ready, scaling to zero, then it
   * is idle with no replica at all.
   */
  const toZero = async (name: string) => {
    ok(
      await cli.run([
        'deploy',
        name,
        '--min',
        '0',
        '--scale-to-zero-after',
        '1s',
        '--scale-down-delay',
        '1s',
      ]),
    );
    await expect
      .poll(async () => (await shown(name)).statusReason, { timeout: 60_000, interval: 250 })
      .toMatch(/^scaling to zero: its last replica takes no new calls and stops within 15 s/);
    // Once "replicas 0/0 (+1 retiring) ready (ready 1)".
    expect(ok(await cli.run(['deployments', 'get', name])).stdout).toContain(
      '\n  replicas    0 of 0 ready, 1 retiring (taking no new calls)\n',
    );
    await expect
      .poll(() => shown(name), { timeout: 60_000, interval: 500 })
      .toMatchObject({
        status: 'idle',
        replicas: { total: 0 },
      });
  };

  beforeAll(async () => {
    stack = await startStack('cli-deploy-from-zero', {
      MERIDIAN_AUTOSCALER_STABLE_WINDOW_SECONDS: '2',
      MERIDIAN_AUTOSCALER_PANIC_WINDOW_SECONDS: '1',
      MERIDIAN_ROLLOUT_RETIRE_SECONDS: '15',
    });
    home = join(stack.dir, 'home');
    await mkdir(home, { recursive: true });
    cli = await buildCli(env);
    ok(
      await cli.run(['register', '--email', 'ada@example.com', '--name', 'Ada', '--password-stdin'], {
        input: 'correct horse battery staple\n',
      }),
    );
    ok(await cli.run(['models', 'push', REAL_MODELS.paddleCls, '--name', 'ocr-cls']));
    ok(await cli.run(['deploy', 'ocr-cls', '--wait', '--timeout', '120']));
  }, 240_000);

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') console.error(stack.logs());
  });

  afterAll(async () => {
    await cli?.remove();
    await stack?.stop();
  });

  it('says it is starting and how to follow it, not idle', async () => {
    await toZero('ocr-cls');

    const started = ok(await cli.run(['deploy', 'ocr-cls', '--min', '1']));

    expect(started.stdout).toBe('ocr-cls pending: ocr-cls v1\n');
    expect(started.stderr).toContain(
      'ocr-cls: pending (starting 1 replica from zero); follow it with: meridian deployments get ocr-cls (or deploy with --wait)\n',
    );
    await expect.poll(() => statusOf('ocr-cls'), { timeout: 120_000, interval: 500 }).toBe('ready');
    expect(ok(await cli.run(['deployments', 'get', 'ocr-cls'])).stdout).toContain(
      '\n  replicas    1 of 1 ready\n',
    );
  }, 240_000);

  // The change answers `pending` now, where --wait once could stop at the `idle` it was answered with.
  it('waits with --wait until a replica is ready', async () => {
    await toZero('ocr-cls');

    const waited = ok(await cli.run(['deploy', 'ocr-cls', '--min', '1', '--wait', '--timeout', '120']));

    expect(waited.stdout).toBe('ocr-cls ready: ocr-cls v1\n');
    expect(waited.stderr).toMatch(/ocr-cls: ready — 1\/1 replicas ready\n/);
  }, 240_000);
});
