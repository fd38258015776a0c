import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCapturingStderr } from './main-captured.test-helper.js';

// `--api-url localhost:8080` once reached fetch as a URL whose scheme is `localhost:`, and the CLI said it
// could not reach the server "at null". A URL option or variable that is not http(s) is usage (exit 2),
// refused before any request; a token is set so that only the URL stands in the way.
describe('the URLs of the control plane and the edge', () => {
  let dir = '';
  const saved = { ...process.env };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cli-urls-'));
  });

  afterEach(() => {
    process.env = { ...saved };
  });

  afterAll(async () => {
    process.env = saved;
    await rm(dir, { recursive: true, force: true });
  });

  const run = async (args: string[], env: Record<string, string> = {}) => {
    process.env = { ...saved, MERIDIAN_CONFIG_DIR: dir, MERIDIAN_TOKEN: 'mk_test_unused' };
    delete process.env.MERIDIAN_API_URL;
    delete process.env.MERIDIAN_EDGE_URL;
    Object.assign(process.env, env);
    return runCapturingStderr(args);
  };

  it('refuses a flag without a scheme, and says what was likely meant', async () => {
    expect(await run(['--api-url', 'localhost:8080', 'whoami'])).toEqual({
      code: 2,
      stderr:
        'meridian: --api-url must be an http(s) URL such as http://localhost:8080, not localhost:8080\n',
    });
    expect(await run(['whoami', '--edge-url', '127.0.0.1:8787'])).toEqual({
      code: 2,
      stderr:
        'meridian: --edge-url must be an http(s) URL such as http://127.0.0.1:8787, not 127.0.0.1:8787\n',
    });
  });

  it('names the variable a bad URL came from, and refuses schemes other than http(s)', async () => {
    expect(await run(['whoami'], { MERIDIAN_API_URL: 'localhost:8080' })).toEqual({
      code: 2,
      stderr:
        'meridian: MERIDIAN_API_URL must be an http(s) URL such as http://localhost:8080, not localhost:8080\n',
    });
    expect(await run(['models', 'list'], { MERIDIAN_EDGE_URL: 'ftp://edge.example' })).toEqual({
      code: 2,
      stderr:
        'meridian: MERIDIAN_EDGE_URL must be an http(s) URL such as http://127.0.0.1:8787, not ftp://edge.example\n',
    });
  });

  it('takes an http URL and goes on to the request', async () => {
    const { code, stderr } = await run(['whoami', '--api-url', 'http://127.0.0.1:9']);
    expect(code).toBe(3);
    expect(stderr).toMatch(/^meridian: cannot reach the server at http:\/\/127\.0\.0\.1:9: /);
  });
});
