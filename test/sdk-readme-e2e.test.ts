import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REAL_MODELS } from '../control-plane/src/onnx/test-models.js';
import { directScores } from './helpers/quick-start-input.js';
import { type Stack, startStack } from './helpers/stack.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

/** The first ```js block under the SDK README's "Quick start" heading, as a user would copy it. */
async function quickStart(): Promise<string> {
  const readme = await readFile(join(REPO_ROOT, 'sdk', 'README.md'), 'utf8');
  const section = readme.split(/^## Quick start$/m)[1] ?? '';
  return /```js\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
}

/**
 * The SDK's README quick start, copied as it is into an empty project that installed the packed SDK, run by
 * Node against the real platform (control plane, a CPU agent, the edge in workerd).
 */
describe("the SDK README's quick start", () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack('sdk-readme');
  }, 180_000);

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') console.error(stack.logs());
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it("uploads, deploys and predicts from the installed tarball, and the scores are onnxruntime's", async () => {
    const code = await quickStart();
    expect(code).toContain('predict(client');
    const project = join(stack.dir, 'user-project');
    await mkdir(project);
    const { stdout: built } = await run(process.execPath, ['sdk/scripts/build-package.mjs'], {
      cwd: REPO_ROOT,
    });
    await run('npm', ['pack', built.trim(), '--pack-destination', project], { cwd: project });
    const tarball = (await readdir(project)).find((f) => f.endsWith('.tgz')) ?? '';
    expect(tarball).toBe('meridian-sdk-0.1.0.tgz');
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'user', private: true }));
    await run('npm', ['install', `./${tarball}`, '--offline', '--no-audit', '--no-fund'], { cwd: project });
    // The README travels in the package, so the quick start a user reads is the one tested here.
    expect(await readFile(join(project, 'node_modules/@meridian/sdk/README.md'), 'utf8')).toContain(code);
    await writeFile(join(project, 'quickstart.mjs'), code);

    const email = 'sdk-user@example.com';
    const password = 'correct horse battery staple';
    const registered = await fetch(`${stack.cp.url}/v1/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password, name: 'SDK user' }),
    });
    expect(registered.status).toBe(201);

    const { stdout, stderr } = await run(process.execPath, ['quickstart.mjs', REAL_MODELS.paddleCls], {
      cwd: project,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        MERIDIAN_API_URL: stack.cp.url,
        MERIDIAN_EDGE_URL: stack.edge.url,
        MERIDIAN_EMAIL: email,
        MERIDIAN_PASSWORD: password,
      },
      timeout: 120_000,
    });
    // Progress as it says: the upload's bytes, then the deployment's phases up to ready.
    expect(stderr).toMatch(/uploaded 578966 of 578966 bytes/);
    expect(stderr.trim().split('\n').at(-1)).toBe('deployment: ready');

    // `ocr-cls 1 [ 0.445…, 0.554… ]`: the names the caller used, then the scores.
    const printed = /^ocr-cls 1 \[ ([-\d.e]+), ([-\d.e]+) \]\n$/.exec(stdout);
    expect(printed, stdout).not.toBeNull();
    const want = await directScores();
    expect(Number(printed?.[1])).toBeCloseTo(want[0] as number, 5);
    expect(Number(printed?.[2])).toBeCloseTo(want[1] as number, 5);
  }, 240_000);
});
