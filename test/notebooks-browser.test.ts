import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Response } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './helpers/chromium.js';
import { newPythonNotebook, runInLastCell, save, waitForIdleKernel } from './helpers/notebook-ui.js';
import { jsonApi } from './helpers/platform.js';
import { type StartedStack, startStack } from './helpers/start-stack.js';

const ARTIFACTS = fileURLToPath(new URL('../test-results/', import.meta.url));

type Notebook = { id: string; status: string; statusReason: string | null; accessUrl: string };

/**
 * GPU notebooks as a person uses them, in Debian's Chromium, against the stack exactly as `npm start` runs
 * it (relative `.data`, the process runtime serving Debian's classic Jupyter notebook behind the edge).
 * Short timings (1 s heartbeats, 2 s idle slack) keep the culling checks quick.
 */
describe('notebooks in a browser, through the edge, on the npm start stack', () => {
  let stack: StartedStack | undefined;
  let browser: Browser | undefined;
  let owner = { accessToken: '', refreshToken: '', orgId: '' };
  const call = jsonApi(() => stack?.cpUrl ?? '');
  const api = (method: string, path: string, body?: unknown) => call(owner.accessToken, method, path, body);
  const get = async (id: string) => (await api('GET', `/v1/notebooks/${id}`)).json as Notebook;
  const untilStatus = async (id: string, status: string, timeout = 90_000) => {
    await expect
      .poll(async () => (await get(id)).status, { timeout, interval: 250, message: `${id} ${status}` })
      .toBe(status);
    return get(id);
  };
  const create = async (body: Record<string, unknown>) => {
    const res = await api('POST', '/v1/notebooks', { gpuType: 'cpu', ...body });
    expect(res.status, res.text).toBe(201);
    return untilStatus(res.json.id, 'running');
  };
  const signUp = async (email: string, orgId?: string) => {
    const password = 'a long and unusual passphrase 9';
    if (!orgId) {
      const reg = await call('', 'POST', '/v1/auth/register', { email, password, name: email.split('@')[0] });
      expect(reg.status, reg.text).toBe(201);
    }
    const login = await call('', 'POST', '/v1/auth/login', { email, password, ...(orgId ? { orgId } : {}) });
    expect(login.status, login.text).toBe(200);
    return login.json as { accessToken: string; refreshToken: string; orgId: string };
  };
  /** A browser context whose every response of 400 or above is recorded. */
  const recordingContext = async () => {
    if (!browser) throw new Error('chromium did not start');
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const failures: string[] = [];
    context.on('response', (r: Response) => {
      if (r.status() >= 400) failures.push(`${r.status()} ${r.request().method()} ${r.url()}`);
    });
    return { context, failures };
  };

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    stack = await startStack({
      MERIDIAN_AGENT_HEARTBEAT_SECONDS: '1',
      MERIDIAN_SCHEDULER_INTERVAL_MS: '250',
      MERIDIAN_NOTEBOOK_IDLE_SLACK_SECONDS: '2',
    });
    browser = await launchChromium();
    owner = await signUp('owner@example.com');
  }, 660_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  }, 60_000);

  let scratch: Notebook | undefined;

  it('opens the access URL in a browser, runs 1+1 in a new Python notebook and keeps it across stop and start', async () => {
    scratch = await create({ name: 'scratch' });
    const { context, failures } = await recordingContext();
    const tree = await context.newPage();
    const opened = await tree.goto(`${scratch.accessUrl}?access_token=${owner.accessToken}`);
    // The token left the URL; the session cookie, scoped to this notebook, took its place.
    expect(tree.url()).not.toContain('access_token');
    expect(tree.url()).toMatch(new RegExp(`/notebooks/${scratch.id}/tree`));
    expect(opened?.status()).toBe(200);
    // On the notebook's own origin, where its pages run apart from every other notebook's.
    expect(new URL(tree.url()).hostname).toBe(`nb-${scratch.id.slice(3)}.notebooks.localhost`);
    const [cookie] = (await context.cookies()).filter((c) => c.name === 'meridian_notebook_session');
    expect(cookie).toMatchObject({
      name: 'meridian_notebook_session',
      domain: `nb-${scratch.id.slice(3)}.notebooks.localhost`,
      path: `/notebooks/${scratch.id}/`,
      httpOnly: true,
      secure: false, // plain HTTP on loopback; Secure whenever the edge is reached over HTTPS
      sameSite: 'Lax',
    });
    expect(cookie?.expires).toBeGreaterThan(Date.now() / 1000 + 24 * 3600); // the login's life, not 15 min

    const page = await newPythonNotebook(context, tree);
    await runInLastCell(page, '1+1');
    await expect
      .poll(() => page.locator('.output_result pre').first().textContent(), { timeout: 30_000 })
      .toBe('2');
    await save(page);
    await page.screenshot({ path: join(ARTIFACTS, 'notebook-running.png'), fullPage: true });
    const name = decodeURIComponent(new URL(page.url()).pathname.split('/').pop() ?? '');
    expect(name).toMatch(/\.ipynb$/);
    await page.close();

    expect((await api('POST', `/v1/notebooks/${scratch.id}/stop`)).status).toBe(200);
    const stopped = await untilStatus(scratch.id, 'stopped');
    expect(stopped.statusReason).toMatch(/stopped as asked/);
    expect((await api('POST', `/v1/notebooks/${scratch.id}/start`)).status).toBe(200);
    await untilStatus(scratch.id, 'running');

    // Reopened with the same browser session: the file is there, with its output.
    await tree.goto(`${scratch.accessUrl}tree`);
    await tree.locator(`a:has-text("${name}")`).first().waitFor({ timeout: 30_000 });
    const again = await context.newPage();
    await again.goto(`${scratch.accessUrl}notebooks/${encodeURIComponent(name)}`);
    await waitForIdleKernel(again);
    expect(await again.locator('.output_result pre').first().textContent()).toBe('2');
    await again.close();
    expect(failures, 'no asset, API call or socket of the owner’s pages failed').toEqual([]);
  }, 300_000);

  it('answers another org’s user and a same-org member 404, no credential 401, each as a page or as JSON', async () => {
    if (!scratch || !browser) throw new Error('the first test did not run');
    const url = scratch.accessUrl;
    const stranger = await signUp('stranger@example.com');
    const memberEmail = 'member@example.com';
    const invitee = await signUp(memberEmail);
    const invited = await api('POST', '/v1/org/invitations', { email: memberEmail, role: 'member' });
    expect(invited.status, invited.text).toBe(201);
    const accepted = await call(invitee.accessToken, 'POST', '/v1/invitations/accept', {
      token: invited.json.token,
    });
    expect(accepted.status, accepted.text).toBe(200);
    const member = await signUp(memberEmail, owner.orgId);

    for (const [who, token] of [
      ['stranger', stranger.accessToken],
      ['member', member.accessToken],
    ] as const) {
      const context = await browser.newContext();
      const page = await context.newPage();
      const res = await page.goto(`${url}?access_token=${token}`);
      expect(res?.status(), who).toBe(404);
      expect(await page.locator('h1').textContent()).toBe('Notebook not found');
      expect(await context.cookies(), `${who} gets no session`).toEqual([]);
      await context.close();
    }
    const anonymous = await browser.newContext();
    const page = await anonymous.newPage();
    const res = await page.goto(url);
    expect(res?.status()).toBe(401);
    expect(await page.locator('h1').textContent()).toBe('Sign in to open this notebook');
    await anonymous.close();

    // API clients get the JSON envelope, on the edge's own address (their token travels with each request).
    const apiUrl = `${stack?.edgeUrl}/notebooks/${scratch.id}/`;
    const json = await fetch(`${apiUrl}api/contents`);
    expect(json.status).toBe(401);
    expect(((await json.json()) as { error: { code: string } }).error.code).toBe('unauthenticated');
    const other = await fetch(`${apiUrl}api/contents`, {
      headers: { authorization: `Bearer ${stranger.accessToken}` },
    });
    expect(other.status).toBe(404);
  }, 120_000);

  it('keeps a page another user’s notebook serves from reaching the owner’s notebook in the same browser', async () => {
    if (!scratch || !browser || !stack) throw new Error('the first test did not run');
    const owners = `${stack.edgeUrl}/notebooks/${scratch.id}/`;
    const asOwner = { authorization: `Bearer ${owner.accessToken}`, 'content-type': 'application/json' };
    const kernel = await fetch(`${owners}api/kernels`, { method: 'POST', headers: asOwner, body: '{}' });
    expect(kernel.status, await kernel.clone().text()).toBe(201);
    const { id: kernelId } = (await kernel.json()) as { id: string };
    const kernels = async () =>
      ((await (await fetch(`${owners}api/kernels`, { headers: asOwner })).json()) as unknown[]).length;
    const before = await kernels();

    // Mallory, of another org, sends the owner a link to her own notebook, token and all. Her code runs its
    // server, so whatever page it serves runs in the owner's browser, beside the owner's open notebook.
    const mallory = await signUp('mallory@example.com');
    const made = await call(mallory.accessToken, 'POST', '/v1/notebooks', { name: 'trap', gpuType: 'cpu' });
    expect(made.status, made.text).toBe(201);
    await expect
      .poll(
        async () => (await call(mallory.accessToken, 'GET', `/v1/notebooks/${made.json.id}`)).json.status,
        {
          timeout: 90_000,
        },
      )
      .toBe('running');
    const trap = (await call(mallory.accessToken, 'GET', `/v1/notebooks/${made.json.id}`)).json as Notebook;
    const { context } = await recordingContext();
    const mine = await context.newPage();
    expect((await mine.goto(`${scratch.accessUrl}?access_token=${owner.accessToken}`))?.status()).toBe(200);
    const lure = await context.newPage();
    expect((await lure.goto(`${trap.accessUrl}?access_token=${mallory.accessToken}`))?.status()).toBe(200);

    // What a script of Mallory's page tries against the owner's notebook.
    const tried = await lure.evaluate(
      async ({ target, id, kernel }) => {
        const samePath = (await fetch(`/notebooks/${id}/api/contents`)).status;
        const read = await fetch(`${target}/notebooks/${id}/api/contents`, { credentials: 'include' }).then(
          (r) => r.status,
          () => 'blocked',
        );
        await fetch(`${target}/notebooks/${id}/api/kernels`, {
          method: 'POST',
          mode: 'no-cors',
          credentials: 'include',
          body: '{}',
        }).catch(() => undefined);
        const socket = await new Promise<string>((resolve) => {
          const ws = new WebSocket(
            `${target.replace(/^http/, 'ws')}/notebooks/${id}/api/kernels/${kernel}/channels`,
          );
          ws.onopen = () => resolve('open');
          ws.onerror = () => resolve('refused');
          setTimeout(() => resolve('no answer'), 10_000);
        });
        return { samePath, read, socket };
      },
      { target: new URL(scratch.accessUrl).origin, id: scratch.id, kernel: kernelId },
    );
    // On its own origin her page reaches no other notebook's path; across origins, the owner's session cookie
    // (sent along: the origins are same-site) is refused for a request her page makes.
    expect(tried).toEqual({ samePath: 404, read: 'blocked', socket: 'refused' });
    expect(await kernels(), 'no kernel started by her page').toBe(before);
    await context.close();
  }, 180_000);

  it('culls a notebook idle past its timeout, saying so', async () => {
    const idle = await create({ name: 'idle', idleTimeoutSeconds: 5 });
    const culled = await untilStatus(idle.id, 'stopped', 60_000);
    expect(culled.statusReason).toMatch(/^culled: idle since .* idle timeout of 5 s/);
  }, 120_000);

  it('does not cull a notebook whose kernel runs time.sleep(30) with a 10 s idle timeout before the cell ends', async () => {
    if (!browser) throw new Error('chromium did not start');
    const busy = await create({ name: 'busy', idleTimeoutSeconds: 10 });
    const context = await browser.newContext();
    const tree = await context.newPage();
    await tree.goto(`${busy.accessUrl}?access_token=${owner.accessToken}`);
    const page = await newPythonNotebook(context, tree);
    await runInLastCell(page, 'import time; time.sleep(30); print("done")');
    const cellStarted = Date.now();
    await page.locator('#kernel_indicator_icon.kernel_busy_icon').waitFor({ timeout: 10_000 });
    // Nothing from the browser from now on: only the busy kernel keeps it alive.
    await context.close();
    while (Date.now() - cellStarted < 29_000) {
      expect((await get(busy.id)).status, 'culled while its cell still ran').toBe('running');
      await new Promise((r) => setTimeout(r, 1_000));
    }
    const culled = await untilStatus(busy.id, 'stopped', 60_000);
    expect(culled.statusReason).toMatch(/^culled/);
  }, 180_000);

  it('keeps a notebook’s files when it stops on one agent and starts on another', async () => {
    if (!stack) throw new Error('no stack');
    const operator = (
      await readFile(join(stack.cwd, '.data', 'control-plane', 'operator-token'), 'utf8')
    ).trim();
    const fleet = async () =>
      (await call(operator, 'GET', '/internal/v1/agents')).json.items as { id: string; status: string }[];
    const [first] = await fleet();
    if (!first) throw new Error('npm start registered no agent');
    const travel = await create({ name: 'travel' });
    const file = `${stack.edgeUrl}/notebooks/${travel.id}/api/contents/kept.txt`;
    const asOwner = { authorization: `Bearer ${owner.accessToken}`, 'content-type': 'application/json' };
    const put = await fetch(file, {
      method: 'PUT',
      headers: asOwner,
      body: JSON.stringify({ type: 'file', format: 'text', content: 'saved on the first host' }),
    });
    expect(put.status, await put.clone().text()).toBe(201);

    const second = await stack.addAgent('host-2', { MERIDIAN_AGENT_HEARTBEAT_SECONDS: '1' });
    expect((await call(operator, 'POST', `/internal/v1/agents/${first.id}/drain`)).status).toBe(200);
    expect((await api('POST', `/v1/notebooks/${travel.id}/stop`)).status).toBe(200);
    await untilStatus(travel.id, 'stopped');
    expect((await api('POST', `/v1/notebooks/${travel.id}/start`)).status).toBe(200);
    await untilStatus(travel.id, 'running');
    // It runs on the second host now, from that host's own workloads dir: nothing is shared but storage.
    const volume = join(stack.cwd, 'host-2', 'workloads', 'volumes', `meridian-notebook-${travel.id}`);
    expect(existsSync(join(volume, 'kept.txt')), second.logs()).toBe(true);
    const got = await fetch(`${file}?content=1`, { headers: asOwner });
    expect(got.status).toBe(200);
    expect(((await got.json()) as { content: string }).content).toBe('saved on the first host');
  }, 180_000);

  it('ends the browser session with the login: after logout the cookie answers 401', async () => {
    if (!scratch || !browser) throw new Error('the first test did not run');
    // A login of its own (a second sign-in of the owner), so ending it touches nothing else.
    const login = await signUp('owner@example.com', owner.orgId);
    const context = await browser.newContext();
    const page = await context.newPage();
    const opened = await page.goto(`${scratch.accessUrl}?access_token=${login.accessToken}`);
    expect(opened?.status()).toBe(200);
    const ours = async () => (await context.cookies()).filter((c) => c.name === 'meridian_notebook_session');
    expect(await ours()).toHaveLength(1);
    await page.close();
    const out = await call(login.accessToken, 'POST', '/v1/auth/logout', {
      refreshToken: login.refreshToken,
    });
    expect(out.status, out.text).toBeLessThan(300);
    // The edge learns a revoked login within its revocation bound (KEY_CACHE_SECONDS + KEY_KV_FRESH_SECONDS).
    let body = '';
    // Page loads only: no script, style or icon of the loaded page meets the ended login first (and drops the
    // cookie before the check below reads it).
    const probe = await context.newPage();
    await probe.route('**/*', (route) =>
      route.request().isNavigationRequest() ? route.continue() : route.abort(),
    );
    await expect
      .poll(
        async () => {
          const res = await probe.goto(`${scratch?.accessUrl}tree`);
          body = (await res?.text()) ?? '';
          return res?.status();
        },
        { timeout: 60_000, interval: 2_000 },
      )
      .toBe(401);
    expect(body).toMatch(/Your login has ended/);
    expect(await ours(), 'the browser drops the dead cookie').toEqual([]);
    await context.close();
  }, 120_000);
});
