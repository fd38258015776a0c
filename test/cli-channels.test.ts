import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Tokens } from '@meridian/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCaptured } from '../cli/src/main-captured.test-helper.js';
import { newSdkUser, startProxiedControlPlane } from './helpers/sdk-users.js';

/**
 * `meridian channels test`, run in this process against a real control plane with no SMTP server: an
 * e-mail channel's test delivery fails, and the user reads why once.
 */
describe('meridian channels test', () => {
  let platform: Awaited<ReturnType<typeof startProxiedControlPlane>>;
  let config = '';
  let token = '';

  const cli = (...args: string[]) =>
    runCaptured(args, {
      MERIDIAN_CONFIG_DIR: config,
      MERIDIAN_API_URL: platform.proxy.url,
      MERIDIAN_TOKEN: token,
    });

  beforeAll(async () => {
    platform = await startProxiedControlPlane('cli-channels-');
    config = await mkdtemp(join(tmpdir(), 'cli-channels-config-'));
    const user = await newSdkUser(platform.proxy.url, 'oncall');
    token = ((await user.store.load()) as Tokens).accessToken;
  }, 150_000);

  afterAll(async () => {
    await platform?.stop();
    await rm(config, { recursive: true, force: true });
  });

  it('says once why a test delivery failed, and exits 1', async () => {
    const created = await cli('channels', 'create', 'ops', '--email', 'ops@example.com');
    expect(created.code, created.stderr).toBe(0);

    const tested = await cli('channels', 'test', 'ops');
    expect(tested.code).toBe(1);
    expect(tested.stdout).toBe('');
    expect(tested.stderr).toBe(
      'meridian: The test notification to ops failed: no SMTP server is configured (MERIDIAN_SMTP_HOST)\n',
    );

    // --json still prints what the delivery was, for a script, and the exit code says it failed.
    const json = await cli('--json', 'channels', 'test', 'ops');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, error: expect.stringContaining('SMTP') });
  });
});
