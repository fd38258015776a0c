import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { DesiredNotebookWorkload } from '@meridian/protocol';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SupervisedRuntime } from '../agent/supervised-runtime.js';
import { DockerRuntime } from './docker-runtime.js';
import { startTestDockerEngine, type TestDockerEngine } from './testing/docker-engine.js';
import { runInKernel } from './testing/jupyter-kernel.js';
import { WorkloadDirs } from './workload-dirs.js';
import { WORKLOAD_UID_MIN, WorkloadUsers } from './workload-users.js';

// The platform's default notebook image (scripts/build-notebook-image.sh: Debian's classic notebook and
// ipykernel, built here from Debian's packages, as no registry is reachable) started as the agent starts a
// notebook: through the docker runtime, with the command, token and volume the agent gives it, on a real
// dockerd. The first build on a machine takes a minute or more; later runs load the saved image.
const AGENT_ID = 'agt_nbimage';
const scripts = resolve(import.meta.dirname, '../../../scripts');
const TOKEN = randomBytes(24).toString('hex');
const auth = { authorization: `token ${TOKEN}` };

let engine: TestDockerEngine | undefined;
let root = '';
let image = '';
/** One agent's runtime for the whole file: it remembers where the notebook answers and its activity. */
let rt: SupervisedRuntime;

function docker() {
  if (!engine) throw new Error('dockerd did not start (see beforeAll)');
  return engine.docker;
}
const newRuntime = () =>
  new SupervisedRuntime({
    name: 'docker',
    supervisor: new DockerRuntime({
      docker: docker(),
      agentId: AGENT_ID,
      workloads: new WorkloadDirs(join(root, 'workloads')),
    }),
    stopGraceSeconds: 5,
    notebookHealthTimeoutMs: 90_000,
  });
const workload = (): DesiredNotebookWorkload => ({
  kind: 'notebook',
  workloadId: 'wl_nbimage',
  notebookId: 'nb_image',
  orgId: 'org_nbimage',
  image,
  gpuType: 'cpu',
  gpuCount: 0,
  idleTimeoutSeconds: 3600,
  token: TOKEN,
  basePath: '/notebooks/nb_image/',
});
/** Starts the notebook and answers the URL it serves at (ending in its base path), as the agent records it. */
async function startNotebook(): Promise<string> {
  await rt.start(workload(), { report: () => {}, exited: () => {}, signal: new AbortController().signal });
  const endpoint = rt.details('wl_nbimage')?.endpoint;
  if (!endpoint) throw new Error('the runtime recorded no endpoint for the healthy notebook');
  return endpoint;
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'meridian-nbimage-'));
  chmodSync(root, 0o711);
  engine = await startTestDockerEngine();
  const started = performance.now();
  const { stdout } = await promisify(execFile)(
    join(scripts, 'build-notebook-image.sh'),
    [`unix://${engine.socketPath}`],
    { timeout: 600_000 },
  );
  image = stdout.trim();
  rt = newRuntime();
  console.info(`${image} ready in ${Math.round(performance.now() - started)} ms (built or loaded)`);
}, 660_000);

afterAll(async () => {
  if (!engine) return;
  try {
    await rt?.stop('wl_nbimage').catch(() => undefined);
    await new DockerRuntime({
      docker: docker(),
      agentId: AGENT_ID,
      workloads: new WorkloadDirs(join(root, 'workloads')),
    }).removeUndesired(new Set());
    // A notebook's user outlives its container (it owns the volume): this host's users are not ours to keep.
    const users = new WorkloadUsers();
    for (const notebook of ['nb_image', 'nb_absent']) await users.remove(`meridian-notebook-${notebook}`);
  } finally {
    await engine.stop();
    rmSync(root, { recursive: true, force: true });
  }
}, 60_000);

describe('the default notebook image under the docker runtime', () => {
  let url = '';

  it('is the platform image, run as a non-root user by default', async () => {
    expect(image).toBe('meridian/notebook:1');
    const info = await docker().getImage(image).inspect();
    expect(info.Config.User).toBe('1000:100');
    expect(info.Config.Cmd).toEqual(['start-notebook.sh']);
  });

  it('tells an operator how to build it when a host does not have it', async () => {
    const absent = {
      ...workload(),
      workloadId: 'wl_absent',
      notebookId: 'nb_absent',
      image: 'meridian/notebook:0',
    };
    await expect(
      rt.start(absent, { report: () => {}, exited: () => {}, signal: new AbortController().signal }),
    ).rejects.toThrow(
      /image meridian\/notebook:0 is not on this host \(build it here: scripts\/build-notebook-image\.sh/,
    );
  });

  it('serves Jupyter’s API and notebook UI under the base path, only with the token', async () => {
    const started = performance.now();
    url = await startNotebook();
    console.info(`notebook healthy in ${Math.round(performance.now() - started)} ms at ${url}`);
    expect(url).toMatch(/^http:\/\/[0-9.]+:8888\/notebooks\/nb_image\/$/);

    const version = await fetch(`${url}api`).then((r) => r.json());
    expect(version).toEqual({ version: expect.stringMatching(/^6\.4\./) });
    expect((await fetch(`${url}api/contents`)).status).toBe(403);
    expect((await fetch(`${url}api/contents?token=wrong-${TOKEN}`)).status).toBe(403);
    const listing = await fetch(`${url}api/contents`, { headers: auth });
    expect(listing.status).toBe(200);
    expect(await listing.json()).toMatchObject({ type: 'directory', writable: true });

    // The classic UI's page and the assets it loads first, all under the base path.
    const tree = await fetch(`${url}tree`, { headers: auth });
    expect(tree.status).toBe(200);
    const html = await tree.text();
    expect(html).toContain('/notebooks/nb_image/static/');
    const assets = [
      'static/components/MathJax/MathJax.js',
      'static/tree/js/main.min.js',
      'static/notebook/js/main.min.js',
      // Every notebook page loads the widgets extension: without it, a 404 in the browser's log.
      'nbextensions/jupyter-js-widgets/extension.js',
    ];
    for (const asset of assets) {
      expect([asset, (await fetch(`${url}${asset}`)).status]).toEqual([asset, 200]);
    }

    // Jupyter and its kernels run as the workload's own user, not the image's, and not root.
    const [container] = await docker().listContainers({
      filters: { label: [`meridian.workload-id=wl_nbimage`] },
    });
    const inspect = await docker()
      .getContainer(container?.Id ?? '')
      .inspect();
    expect(Number(inspect.Config.User.split(':')[0])).toBeGreaterThanOrEqual(WORKLOAD_UID_MIN);
    expect(inspect.HostConfig.ReadonlyRootfs).toBe(true);
  }, 120_000);

  it('saves a notebook file and runs 1+1 in a Python kernel; Jupyter records the activity', async () => {
    const before = rt.details('wl_nbimage')?.lastActivityAt ?? '';
    const saved = await fetch(`${url}api/contents/hello.ipynb`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({
        type: 'notebook',
        format: 'json',
        content: {
          nbformat: 4,
          nbformat_minor: 5,
          metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
          cells: [
            {
              cell_type: 'code',
              id: 'c1',
              source: 'print(1+1)',
              metadata: {},
              outputs: [],
              execution_count: null,
            },
          ],
        },
      }),
    });
    expect(saved.status).toBe(201);
    const kernelspecs = await fetch(`${url}api/kernelspecs`, { headers: auth }).then((r) => r.json());
    expect(kernelspecs).toMatchObject({ default: 'python3' });

    expect(await runInKernel(url, TOKEN, 'print(1+1)', 60_000)).toBe('2\n');

    // The docker runtime sees no traffic of its own: the idle clock is Jupyter's last_activity, which the
    // agent reads (in the background, every 5 s) without counting as activity itself.
    let after = '';
    for (let i = 0; i < 40 && !(after > before); i++) {
      after = rt.details('wl_nbimage')?.lastActivityAt ?? '';
      if (!(after > before)) await sleep(500);
    }
    expect(after > before, `last activity ${before} → ${after}`).toBe(true);
  }, 90_000);

  it('works in a browser: a new Python notebook runs 1+1 and shows 2, and nothing the page asks for fails', async () => {
    // Debian's Chromium (ensure-system-deps installs it), straight at the container: the UI's own assets,
    // API calls and kernel WebSocket, with the token in the URL as the edge's session would carry it.
    if (!existsSync('/usr/bin/chromium'))
      throw new Error('/usr/bin/chromium is missing: run ensure-system-deps');
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    try {
      const context = await browser.newContext();
      const failed: string[] = [];
      context.on('response', (r) => {
        if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
      });
      const tree = await context.newPage();
      await tree.goto(`${url}tree?token=${TOKEN}`);
      await tree.locator('#new-dropdown-button').click();
      const [page] = await Promise.all([
        context.waitForEvent('page', { timeout: 30_000 }),
        tree.locator('#kernel-python3 a').click(),
      ]);
      await page.locator('#kernel_indicator_icon.kernel_idle_icon').waitFor({ timeout: 60_000 });
      await page.locator('.cell .CodeMirror').last().click();
      await page.keyboard.type('1+1');
      await page.keyboard.press('Shift+Enter');
      const result = page.locator('.output_result pre').first();
      await result.waitFor({ timeout: 30_000 });
      expect(await result.textContent()).toBe('2');
      expect(failed).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 120_000);

  it('keeps the file in the volume across stop and start', async () => {
    await rt.stop('wl_nbimage');
    expect(
      await docker().listContainers({ all: true, filters: { label: ['meridian.workload-id=wl_nbimage'] } }),
    ).toEqual([]);
    const volume = statSync(join(root, 'workloads', 'volumes', 'meridian-notebook-nb_image', 'hello.ipynb'));
    expect(volume.uid).toBeGreaterThanOrEqual(WORKLOAD_UID_MIN);

    url = await startNotebook();
    const file = await fetch(`${url}api/contents/hello.ipynb`, { headers: auth });
    expect(file.status).toBe(200);
    const body = (await file.json()) as { content: { cells: { source: string }[] } };
    expect(body.content.cells[0]?.source).toBe('print(1+1)');
  }, 120_000);
});
