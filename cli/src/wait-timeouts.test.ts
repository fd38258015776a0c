import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCapturingStderr } from './main-captured.test-helper.js';

// A --timeout that is not a whole number once made NaN deadlines, and `--wait` then waited forever. Each is
// refused as usage (exit 2) before any request: here no login and no server exist, so reaching the network
// or the login check would exit 1 or 3 instead.
describe('--timeout of the commands that wait', () => {
  let dir = '';
  const saved = { ...process.env };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cli-timeouts-'));
    process.env.MERIDIAN_CONFIG_DIR = dir;
    process.env.MERIDIAN_API_URL = 'http://127.0.0.1:9';
    delete process.env.MERIDIAN_TOKEN;
  });

  afterAll(async () => {
    process.env = saved;
    await rm(dir, { recursive: true, force: true });
  });

  const run = runCapturingStderr;

  it.each([
    [['deploy', 'ocr-cls', '--wait', '--timeout', 'soon']],
    [['batch', 'create', 'in.jsonl', '-d', 'ocr-cls', '--wait', '--timeout', '1.5']],
    [['notebooks', 'create', 'lab', '--wait', '--timeout', '0']],
    [['notebooks', 'start', 'lab', '--wait', '--timeout', '-1']],
    [['notebooks', 'open', 'lab', '--wait', '--timeout', 'forever']],
  ])('%j exits 2 naming the flag, before any request', async (args) => {
    const { code, stderr } = await run(args);
    expect(stderr).toMatch(/--timeout wants a whole number from 1 to \d+/);
    expect(code).toBe(2);
  });
});
