import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  collect,
  MemoryTokenStore,
  MeridianClient,
  memorySource,
  tokensFrom,
  uploadModelVersion,
  waitForDeployment,
} from '@meridian/sdk';
import type { Browser, BrowserContext, BrowserContextOptions, ConsoleMessage, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REAL_MODELS } from '../control-plane/src/onnx/test-models.js';
import {
  dropFile,
  launchChromium,
  pageLoadsOf,
  screenshot,
  scrollWidth,
  seriousViolations,
} from './helpers/dashboard-browser.js';
import { joinByInvitation } from './helpers/invitations.js';
import { directScores, INPUT, SHAPE } from './helpers/quick-start-input.js';
import { type Stack, startStack } from './helpers/stack.js';
import { waitUntil } from './helpers/wait.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const PASSWORD = 'correct horse battery staple';
// Short access tokens, so a session expires while a test is on a page (the SDK and the app renew them).
const ACCESS_TTL_SECONDS = 10;
// The revocation bound (wrangler.toml): KEY_CACHE_SECONDS + KEY_KV_FRESH_SECONDS, shortened here.
const KEY_CACHE_SECONDS = 2;
const KEY_KV_FRESH_SECONDS = 3;
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };

const expectClose = (got: number[], want: number[]) => {
  expect(got).toHaveLength(want.length);
  for (const [i, v] of got.entries()) expect(v).toBeCloseTo(want[i] as number, 5);
};

const unique = (name: string) => `${name}-${Math.random().toString(36).slice(2, 8)}@example.com`;

/**
 * The web dashboard in Chromium against the real platform (control plane serving the built app, a CPU
 * agent, the edge in workerd): the guided first run, every main page, roles, accessibility, layout, time
 * zones, themes, bad input and an expiring session. Screenshots land in test-results/dashboard/.
 */
describe('the web dashboard in a browser', () => {
  let stack: Stack;
  let browser: Browser;
  let ownerEmail = '';
  let owner: MeridianClient;
  /** The onboarding's state, read back by later tests. */
  const first = { modelId: '', deploymentId: '', deploymentName: 'ocr-cls', keySecret: '' };
  let page: Page;
  let context: BrowserContext;
  const contexts: BrowserContext[] = [];

  const client = () =>
    new MeridianClient({ baseUrl: stack.cp.url, edgeUrl: stack.edge.url, tokens: new MemoryTokenStore() });
  const userClient = async (email: string) => {
    const c = client();
    await c.login(email, PASSWORD);
    return c;
  };
  const registered = async (email: string, name: string) => {
    const store = new MemoryTokenStore();
    const c = new MeridianClient({ baseUrl: stack.cp.url, edgeUrl: stack.edge.url, tokens: store });
    const pair = await c.request('post', '/v1/auth/register', { body: { email, password: PASSWORD, name } });
    await store.save(tokensFrom(pair));
    return { client: c, orgId: pair.org.id };
  };
  const pageErrors: string[] = [];
  const newContext = async (options: BrowserContextOptions = {}) => {
    const ctx = await browser.newContext({ viewport: DESKTOP, locale: 'en-US', ...options });
    // The machine running this is shared and slow at times: waits are long, failures still fail.
    ctx.setDefaultTimeout(60_000);
    ctx.on('weberror', (e) => pageErrors.push(e.error().message));
    ctx.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    // The session's story, for a failure's log.
    ctx.on('response', (r) => {
      if (r.url().includes('/v1/auth/'))
        pageErrors.push(`${new Date().toISOString()} ${r.status()} ${r.url()}`);
    });
    contexts.push(ctx);
    return ctx;
  };
  /** A page of a new context, logged in through the login page. */
  const loggedInPage = async (email: string, options: BrowserContextOptions = {}) => {
    const ctx = await newContext(options);
    const p = await ctx.newPage();
    await p.goto(`${stack.cp.url}/login`);
    await p.getByLabel('Email').fill(email);
    await p.getByLabel('Password').fill(PASSWORD);
    await p.getByRole('button', { name: 'Log in' }).click();
    await p.getByRole('navigation', { name: 'Main' }).waitFor();
    return p;
  };
  /** A new user with a deployment of the real model that starts no replica (minimum 0) until called. */
  const userWithDeployment = async (name: string) => {
    const email = unique(name);
    const { client: user } = await registered(email, name);
    const model = await user.request('post', '/v1/models', { body: { name } });
    await uploadModelVersion(user, {
      modelId: model.id,
      source: memorySource('cls.onnx', await readFile(REAL_MODELS.paddleCls)),
    });
    const deployment = await user.request('post', '/v1/deployments', {
      body: { name, model: model.id, version: 1, gpuType: 'cpu', minReplicas: 0, maxReplicas: 1 },
    });
    return { email, user, deployment };
  };
  const predictWithKey = (key: string, name: string) =>
    fetch(`${stack.edge.url}/v2/models/${name}/infer`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: SHAPE, data: [...INPUT] }] }),
    });

  beforeAll(async () => {
    // As `npm start` does: build the app when it is missing or older than its sources.
    execFileSync(process.execPath, ['scripts/build-dashboard.mjs'], { cwd: REPO_ROOT, stdio: 'inherit' });
    stack = await startStack(
      'dashboard-e2e',
      { MERIDIAN_ACCESS_TOKEN_TTL_SECONDS: String(ACCESS_TTL_SECONDS) },
      {
        MERIDIAN_EDGE_VAR_KEY_CACHE_SECONDS: String(KEY_CACHE_SECONDS),
        MERIDIAN_EDGE_VAR_KEY_KV_FRESH_SECONDS: String(KEY_KV_FRESH_SECONDS),
        MERIDIAN_EDGE_VAR_USAGE_FLUSH_SECONDS: '1',
      },
    );
    browser = await launchChromium();
    context = await newContext();
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stack.cp.url });
    page = await context.newPage();
  }, 300_000);

  afterEach(async (ctx) => {
    if (ctx.task.result?.state !== 'fail') return;
    for (const [i, c] of contexts.entries())
      for (const [j, p] of c.pages().entries())
        await screenshot(p, `failure-${i}-${j}`).catch(() => undefined);
    if (ctx.task.result?.state === 'fail')
      console.error(`${stack.logs()}\n--- browser ---\n${pageErrors.join('\n')}`);
  });

  afterAll(async () => {
    for (const ctx of contexts) await ctx.close().catch(() => undefined);
    await browser?.close();
    await stack?.stop();
  });

  describe('onboarding', () => {
    it('signs up and lands on the guided first run', async () => {
      ownerEmail = unique('owner');
      const consoleErrors: string[] = [];
      const onConsole = (m: ConsoleMessage) => {
        if (m.type() === 'error') consoleErrors.push(m.text());
      };
      page.on('console', onConsole);
      await page.goto(`${stack.cp.url}/`);
      await page.getByRole('link', { name: 'Create an account' }).waitFor();
      // A browser that never signed in asks for no refresh (whose 401 Chromium would log as an error).
      expect(consoleErrors).toEqual([]);
      page.off('console', onConsole);
      await page.getByRole('link', { name: 'Create an account' }).click();
      await page.getByLabel('Name').fill('Ada');
      await page.getByLabel('Email').fill(ownerEmail);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.getByRole('heading', { name: 'Get started' }).waitFor();
      expect(new URL(page.url()).pathname).toBe('/welcome');
      // The refresh token is only in the HttpOnly cookie, scoped to the auth routes; scripts cannot read it.
      const cookies = await context.cookies(`${stack.cp.url}/v1/auth/refresh`);
      const refresh = cookies.find((c) => c.name === 'meridian_refresh');
      expect(refresh).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/v1/auth' });
      expect(await page.evaluate(() => document.cookie)).toBe('');
      owner = await userClient(ownerEmail);
    }, 60_000);

    it("shows the API's 415 message for a file named notes.txt dropped on upload", async () => {
      await page.getByLabel('Model name').fill(first.deploymentName);
      await dropFile(
        page,
        '[data-testid=drop-zone]',
        'notes.txt',
        new TextEncoder().encode('hello'),
        'text/plain',
      );
      const alert = page.getByRole('alert').filter({ hasText: 'notes.txt' });
      await alert.waitFor();
      const text = await alert.textContent();
      expect(text).toContain('Unknown model format for "notes.txt"; supported endings:');
      expect(text).toContain('unsupported_media_type');
      // The refused file's progress bar goes: nothing is uploading.
      expect(await page.locator('progress').count()).toBe(0);
    }, 60_000);

    it('uploads a model by drag and drop with a progress bar and shows its extracted signature', async () => {
      const bytes = await readFile(REAL_MODELS.paddleCls);
      await dropFile(page, '[data-testid=drop-zone]', 'cls.onnx', bytes, 'application/octet-stream');
      await page.getByText('Uploaded cls.onnx as version 1').waitFor({ timeout: 60_000 });
      expect(await page.locator('progress').getAttribute('value')).toBe('100');
      const signature = page.getByRole('region', { name: 'Signature' });
      await expect(signature.textContent()).resolves.toContain('softmax_0.tmp_0');
      const rows = await signature.locator('tbody tr').allTextContents();
      expect(rows).toEqual(['xinputFP32[?, 3, ?, ?]', 'softmax_0.tmp_0outputFP32[?, 2]']);
      // The failed notes.txt kept the model it made: the .onnx went into the same one.
      const models = await collect(owner.list('/v1/models'));
      expect(models.map((m) => m.name)).toEqual([first.deploymentName]);
      first.modelId = models[0]?.id ?? '';
      await screenshot(page, 'onboarding-upload');
    }, 90_000);

    it('deploys it, creates a key shown once with a copy button, and predicts from the browser what onnxruntime computes', async () => {
      await page.getByRole('button', { name: 'Deploy' }).click();
      await page
        .getByRole('status')
        .filter({ hasText: `${first.deploymentName}: ready` })
        .waitFor({ timeout: 120_000 });
      await page.getByRole('button', { name: 'Create key' }).click();
      const secret = page.getByTestId('api-key-secret');
      await secret.waitFor();
      first.keySecret = (await secret.textContent()) ?? '';
      expect(first.keySecret).toMatch(/^mk_(live|test)_/);
      await page.getByRole('button', { name: 'Copy key' }).click();
      expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(first.keySecret);

      // The form comes from the signature: a size per dynamic dimension, then the values.
      await page.getByLabel('x dimension 0').fill('1');
      await page.getByLabel('x dimension 2').fill('48');
      await page.getByLabel('x dimension 3').fill('192');
      await page.getByLabel('x values').fill([...INPUT].join(', '));
      const preflights: string[] = [];
      page.on('request', (r) => {
        if (r.method() === 'OPTIONS' || r.url().startsWith(stack.edge.url))
          preflights.push(`${r.method()} ${r.url()}`);
      });
      await page.getByRole('button', { name: 'Predict' }).click();
      const output = page.getByTestId('prediction-output');
      await output.waitFor({ timeout: 30_000 });
      const outputs = JSON.parse((await output.textContent()) ?? '[]') as { data: number[] }[];
      expectClose(outputs[0]?.data ?? [], await directScores());
      // The call went from the page to the edge (cross-origin, so the edge's CORS answer let it through).
      expect(
        preflights.some((r) =>
          r.startsWith(`POST ${stack.edge.url}/v2/models/${first.deploymentName}/infer`),
        ),
      ).toBe(true);
      const deployments = await collect(owner.list('/v1/deployments'));
      first.deploymentId = deployments[0]?.id ?? '';
      await screenshot(page, 'onboarding-predicted');

      // The edge's refusal reads with its own code and request id (OIP's shape keeps them beside the message).
      await page.getByLabel('API key').fill('mk_live_not_a_real_key_000000000000');
      await page.getByRole('button', { name: 'Predict' }).click();
      await page
        .getByRole('alert')
        .filter({ hasText: /\(unauthenticated, request [\w-]+\)/ })
        .waitFor({ timeout: 30_000 });
      await page.getByLabel('API key').fill(first.keySecret);
    }, 240_000);

    it('shows copy-paste snippets for curl, the CLI and Python tritonclient', async () => {
      const curl = await page.getByRole('figure', { name: /^curl/ }).textContent();
      expect(curl).toContain(`${stack.edge.url}/v2/models/${first.deploymentName}/infer`);
      expect(curl).toContain('Authorization: Bearer $MERIDIAN_API_KEY');
      const cli = await page.getByRole('figure', { name: /^Meridian CLI/ }).textContent();
      expect(cli).toContain(`npx meridian predict ${first.deploymentName}`);
      const python = await page.getByRole('figure', { name: /^Python/ }).textContent();
      expect(python).toContain('import tritonclient.http as http');
      expect(python).toContain(`client.infer("${first.deploymentName}", inputs, headers=headers)`);
      expect(python).toContain(new URL(stack.edge.url).host);
    });
  });

  describe('pages', () => {
    let pages: [string, string][] = [];
    let runId = '';
    let experimentId = '';

    beforeAll(async () => {
      // Something on every page: an experiment with a run, parameters and a metric history; an alias.
      const experiment = await owner.request('post', '/v1/experiments', { body: { name: 'ocr-training' } });
      const run = await owner.request('post', '/v1/experiments/{id}/runs', {
        path: { id: experiment.id },
        body: { name: 'baseline' },
      });
      runId = run.id;
      experimentId = experiment.id;
      await owner.request('post', '/v1/runs/{id}/log-batch', {
        path: { id: run.id },
        body: {
          params: [{ key: 'lr', value: '0.001' }],
          metrics: Array.from({ length: 10 }, (_, step) => ({ key: 'loss', step, value: 1 / (step + 1) })),
        },
      });
      await owner.request('put', '/v1/runs/{id}/tags', {
        path: { id: run.id },
        body: { tags: { team: 'ocr' } },
      });
      await owner.request('put', '/v1/models/{id}/aliases/{alias}', {
        path: { id: first.modelId, alias: 'production' },
        body: { version: 1 },
      });
      // A one-line batch job on the onboarding's deployment, so its page shows a row (and files once it ends).
      const line = JSON.stringify({
        custom_id: 'first',
        method: 'POST',
        url: `/v2/models/${first.deploymentName}/infer`,
        body: { inputs: [{ name: 'x', datatype: 'FP32', shape: SHAPE, data: [...INPUT] }] },
      });
      const input = await owner.request('post', '/v1/files', {
        query: { filename: 'inputs.jsonl', purpose: 'batch' },
        raw: { body: `${line}\n`, contentType: 'application/octet-stream' },
      });
      await owner.request('post', '/v1/batch-jobs', {
        body: { deployment: first.deploymentName, inputFileId: input.id },
      });
      pages = [
        ['get-started', '/'],
        ['models', '/models'],
        ['model', `/models/${first.modelId}`],
        ['deployments', '/deployments'],
        ['deployment', `/deployments/${first.deploymentId}`],
        ['batch-jobs', '/batch-jobs'],
        ['experiments', '/experiments'],
        ['experiment', `/experiments/${experiment.id}`],
        ['run', `/runs/${run.id}`],
        ['notebooks', '/notebooks'],
        ['api-keys', '/keys'],
        ['usage', '/usage'],
        ['members', '/members'],
        ['invitations', '/invitations'],
        ['audit-log', '/audit'],
      ];
    }, 60_000);

    /** Opens `path` in the app and waits until nothing on it is still loading. */
    const open = async (p: Page, path: string) => {
      await p.goto(`${stack.cp.url}${path}`);
      // Logged in (the app, not the login page), and nothing left loading.
      await p.getByRole('navigation', { name: 'Main' }).waitFor();
      await p.waitForFunction(() => !document.querySelector('[role=status].loading, .loading'), undefined, {
        timeout: 30_000,
      });
    };

    it('shows every main page, with a screenshot, and axe finds no critical or serious violation', async () => {
      const found: string[] = [];
      for (const [name, path] of pages) {
        await open(page, path);
        // Every page of the menu is a page: the root once answered "Not found" to a logged-in user.
        if (await page.getByRole('heading', { name: 'Not found' }).count()) found.push(`${path}: Not found`);
        await screenshot(page, `${name}-1280`);
        for (const v of await seriousViolations(page)) found.push(`${path}: ${v}`);
      }
      expect(found).toEqual([]);
      // The pages show what the API holds.
      await open(page, `/models/${first.modelId}`);
      await expect(page.getByRole('main').textContent()).resolves.toContain('production → version 1');
      // The experiment's runs compare side by side: a column per metric, each run's latest value.
      await open(page, `/experiments/${experimentId}`);
      const runsTable = page.getByRole('region', { name: 'Runs table' });
      await expect.poll(() => runsTable.getByRole('columnheader').allTextContents()).toContain('loss');
      await expect(runsTable.getByRole('row', { name: /baseline/ }).textContent()).resolves.toMatch(/0\.1$/);
      await open(page, `/runs/${runId}`);
      await page.getByRole('img', { name: /^loss: 10 points/ }).waitFor();
      // The run names its experiment as the user named it, and shows its tags.
      await page.getByRole('link', { name: 'ocr-training' }).waitFor();
      await expect(page.getByRole('main').textContent()).resolves.toMatch(
        /in experiment ocr-training[\s\S]*Tags[\s\S]*teamocr/,
      );
      // The deployment's page shows its replicas' log lines, the agent's own among them.
      await open(page, `/deployments/${first.deploymentId}`);
      await expect(page.getByRole('region', { name: 'Logs' }).textContent()).resolves.toMatch(
        /ready in \d+ ms/,
      );
      // No rule watches it yet: the page says how to make one for this deployment, by its name.
      await expect(page.getByRole('region', { name: 'Monitoring' }).textContent()).resolves.toContain(
        `meridian alerts create ${first.deploymentName}-errors -d ${first.deploymentName} --metric error_rate`,
      );
      // The audit log names people by e-mail, keys and models by name: no user or key id in what is read.
      await open(page, '/audit');
      // The names arrive after the entries: wait for them.
      const auditText = () => page.getByRole('table').textContent();
      await expect.poll(auditText, { timeout: 10_000 }).toContain('key first key');
      const audit = await auditText();
      expect(audit).toContain(ownerEmail);
      // Entries name the uploaded file and the run that was logged to, not their ids.
      expect(audit).toContain('inputs.jsonl');
      expect(audit).not.toMatch(/\b(file|run)_[0-9a-z]{20,}/);
      expect(audit).not.toMatch(/\b(usr|key)_[0-9a-z]{20,}/);
      // Filtered by who acted, offered by name: the key changed nothing; every row of the owner's is theirs.
      const by = page.getByRole('combobox', { name: /^By\b/ });
      await by.selectOption({ label: 'key first key' });
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.getByText('No audit entries match this filter').waitFor();
      await by.selectOption({ label: ownerEmail });
      await page.getByRole('button', { name: 'Filter' }).click();
      await expect.poll(auditText, { timeout: 10_000 }).toContain('inputs.jsonl');
      const actors = await page.locator('tbody tr td:nth-child(3)').allTextContents();
      expect(actors.length).toBeGreaterThan(3);
      expect(new Set(actors)).toEqual(new Set([ownerEmail]));
    }, 480_000);

    it('fits a 390 px wide screen: no page scrolls sideways', async () => {
      const phone = await context.newPage();
      await phone.setViewportSize(PHONE);
      const wide: string[] = [];
      for (const [name, path] of pages) {
        await open(phone, path);
        const width = await scrollWidth(phone);
        if (width > PHONE.width) wide.push(`${path}: ${width}px`);
        await screenshot(phone, `${name}-390`);
      }
      await phone.close();
      expect(wide).toEqual([]);
    }, 240_000);

    it("shows times in the browser's time zone", async () => {
      const zones = ['America/Los_Angeles', 'Asia/Tokyo'];
      const shown: string[] = [];
      let instant = '';
      for (const timezoneId of zones) {
        const p = await loggedInPage(ownerEmail, { timezoneId });
        await open(p, `/deployments/${first.deploymentId}`);
        const time = p.locator('dd time').first();
        instant = (await time.getAttribute('datetime')) ?? '';
        shown.push((await time.textContent()) ?? '');
      }
      // The app's format (dashboard/src/lib/format.ts), in each zone.
      const format = {
        year: 'numeric',
        month: 'short',
        day: 'numeric',
        hour: 'numeric',
        minute: '2-digit',
      } as const;
      const expected = zones.map((timeZone) =>
        new Intl.DateTimeFormat('en-US', { ...format, timeZoneName: 'short', timeZone }).format(
          new Date(instant),
        ),
      );
      // ICU puts narrow no-break spaces in times; compare with plain spaces.
      const plain = (texts: string[]) => texts.map((t) => t.replace(/\s/g, ' '));
      expect(plain(shown)).toEqual(plain(expected));
      expect(shown[0]).not.toBe(shown[1]);
    }, 120_000);

    it('follows prefers-color-scheme: dark and light themes', async () => {
      const background = async (colorScheme: 'dark' | 'light') => {
        const p = await loggedInPage(ownerEmail, { colorScheme });
        await open(p, '/models');
        await screenshot(p, `models-${colorScheme}`);
        return p.evaluate(() => getComputedStyle(document.body).backgroundColor);
      };
      expect(await background('dark')).toBe('rgb(17, 20, 24)');
      expect(await background('light')).toBe('rgb(255, 255, 255)');
    }, 120_000);
  });

  describe('addresses and lists', () => {
    it("says not found, with the way back, at another organisation's model, a mistyped run and a deployment deleted while open", async () => {
      const { email, user, deployment } = await userWithDeployment('lost-cls');
      const { client: other } = await registered(unique('other'), 'Oz');
      const theirs = await other.request('post', '/v1/models', { body: { name: 'not-yours' } });
      const p = await loggedInPage(email);

      await p.goto(`${stack.cp.url}/models/${theirs.id}`);
      await p.getByRole('heading', { name: 'Model not found' }).waitFor();
      expect(await p.getByText('not-yours').count()).toBe(0);
      await p.getByRole('link', { name: 'Back to models' }).click();
      await p.getByRole('heading', { name: 'Models' }).waitFor();

      // A link cut short names no run: still "not found", not the API's complaint about the id's shape.
      await p.goto(`${stack.cp.url}/runs/run_01m9`);
      await p.getByRole('heading', { name: 'Run not found' }).waitFor();
      expect(await p.getByRole('main').textContent()).not.toContain('26 lower-case letters');

      // Deleted elsewhere while its page is open: the page says so within its refresh.
      await p.goto(`${stack.cp.url}/deployments/${deployment.id}`);
      await p.getByRole('heading', { name: 'Deployment lost-cls' }).waitFor();
      await user.request('delete', '/v1/deployments/{id}', { path: { id: deployment.id } });
      await p.getByRole('heading', { name: 'Deployment not found' }).waitFor({ timeout: 20_000 });
      await p.getByRole('link', { name: 'Back to deployments' }).click();
      await p.getByRole('heading', { name: 'Deployments' }).waitFor();
      await screenshot(p, 'deployment-not-found');
    }, 180_000);

    it('comes back to the page of a list it was on, after opening a row and going back, and after a reload', async () => {
      const email = unique('pager');
      const { client: user } = await registered(email, 'Pat');
      // 25 experiments: newest first, the first five made are on page 2.
      for (let i = 0; i < 25; i++)
        await user.request('post', '/v1/experiments', {
          body: { name: `exp-${String(i).padStart(2, '0')}` },
        });
      const p = await loggedInPage(email);
      await p.goto(`${stack.cp.url}/experiments`);
      const list = p.getByRole('region', { name: 'Experiments', exact: true });
      await list.getByRole('link', { name: 'exp-24' }).waitFor();
      await list.getByRole('button', { name: 'Next' }).click();
      await list.getByRole('link', { name: 'exp-04' }).waitFor();
      await list.getByRole('link', { name: 'exp-02' }).click();
      await p.getByRole('heading', { name: 'Experiment exp-02' }).waitFor();
      await p.goBack();
      await list.getByText('Page 2').waitFor();
      // The pager shows at once; its rows once they have loaded.
      await expect
        .poll(() => list.getByRole('link').allTextContents())
        .toEqual(['exp-04', 'exp-03', 'exp-02', 'exp-01', 'exp-00']);
      await p.reload();
      await list.getByText('Page 2').waitFor();
      await list.getByRole('link', { name: 'exp-00' }).waitFor();
      // Previous still goes back to the first page.
      await list.getByRole('button', { name: 'Previous' }).click();
      await list.getByRole('link', { name: 'exp-24' }).waitFor();
      expect(await list.getByText('Page 1').count()).toBe(1);
    }, 120_000);
    it('keeps an audit log filter through a reload and Back', async () => {
      const email = unique('auditor');
      const { client: user } = await registered(email, 'Aud');
      await user.request('post', '/v1/experiments', { body: { name: 'audited' } });
      const p = await loggedInPage(email);
      await p.goto(`${stack.cp.url}/audit`);
      const table = p.getByRole('region', { name: 'Audit log table' });
      await table.getByRole('cell', { name: 'experiment.create', exact: true }).waitFor();
      await p.getByLabel('Action').fill('experiment.delete');
      await p.getByLabel('When').selectOption('3600');
      await p.getByRole('button', { name: 'Filter' }).click();
      await p.getByText('No audit entries match this filter').waitFor();
      expect(new URL(p.url()).searchParams.get('action')).toBe('experiment.delete');
      await p.reload();
      await p.getByText('No audit entries match this filter').waitFor();
      expect(await p.getByLabel('Action').inputValue()).toBe('experiment.delete');
      expect(await p.getByLabel('When').inputValue()).toBe('3600');
      // Back to the log as it was before the filter: everything, and an empty form.
      await p.goBack();
      await table.getByRole('cell', { name: 'experiment.create', exact: true }).waitFor();
      expect(await p.getByLabel('Action').inputValue()).toBe('');
      await p.goForward();
      await p.getByText('No audit entries match this filter').waitFor();
      expect(await p.getByLabel('Action').inputValue()).toBe('experiment.delete');
    }, 120_000);
  });

  describe('roles and keys', () => {
    it('shows a viewer no revoke button, and a forged revoke gets the API 403 shown as a message', async () => {
      const viewerEmail = unique('viewer');
      const vic = await registered(viewerEmail, 'Vic');
      const ownerOrg = await owner.request('get', '/v1/auth/me');
      await joinByInvitation(owner, vic.client, viewerEmail, 'viewer');
      const p = await loggedInPage(viewerEmail);
      // The org switcher moves the viewer into the owner's org.
      await p.getByLabel('Organisation').selectOption(ownerOrg.org.id);
      await p.getByRole('button', { name: /^Switch to/ }).click();
      await p.getByText('viewer', { exact: true }).waitFor();
      await p.getByRole('link', { name: 'API keys' }).click();
      await p.getByRole('alert').waitFor();
      expect(await p.getByRole('button', { name: /Revoke/ }).count()).toBe(0);

      // Forge what the page believes (an owner's role and the owner's list); the API still decides.
      const ownerKeys = await owner.request('get', '/v1/api-keys');
      await p.route(`${stack.cp.url}/v1/auth/me`, async (route) => {
        const res = await route.fetch();
        const me = (await res.json()) as { role: string };
        await route.fulfill({ response: res, json: { ...me, role: 'owner' } });
      });
      await p.route(/\/v1\/api-keys\?/, (route) =>
        route.request().method() === 'GET' ? route.fulfill({ json: ownerKeys }) : route.fallback(),
      );
      await p.reload();
      await p.getByRole('button', { name: 'Revoke first key' }).click();
      const answer = p.waitForResponse(
        (r) => r.request().method() === 'DELETE' && r.url().includes('/v1/api-keys/'),
      );
      await p.getByRole('button', { name: 'Yes, revoke first key' }).click();
      expect((await answer).status()).toBe(403);
      const alert = p.getByRole('alert').filter({ hasText: 'forbidden' });
      await alert.waitFor();
      await screenshot(p, 'viewer-forged-revoke');
      const key = (await owner.request('get', '/v1/api-keys')).items.find((k) => k.name === 'first key');
      expect(key?.status).toBe('active');
    }, 120_000);

    it('revokes a key from the keys page, and the edge refuses it within the stated bound', async () => {
      expect((await predictWithKey(first.keySecret, first.deploymentName)).status).toBe(200);
      await page.goto(`${stack.cp.url}/keys`);
      await page.getByRole('button', { name: 'Revoke first key' }).click();
      const revoked = page.waitForResponse(
        (r) => r.request().method() === 'DELETE' && r.url().includes('/v1/api-keys/'),
      );
      await page.getByRole('button', { name: 'Yes, revoke first key' }).click();
      expect((await revoked).status()).toBe(200);
      const at = Date.now();
      await page.getByRole('cell', { name: 'revoked' }).waitFor();
      await waitUntil(
        async () => (await predictWithKey(first.keySecret, first.deploymentName)).status,
        (status) => status === 401,
        { timeoutMs: 60_000, intervalMs: 200, what: 'the edge refusing the revoked key' },
      );
      const elapsed = Date.now() - at;
      console.log(
        `revoked key refused by the edge after ${elapsed} ms (bound ${(KEY_CACHE_SECONDS + KEY_KV_FRESH_SECONDS) * 1000} ms)`,
      );
      // One call's time of slack: a call that began inside the bound may answer just after it.
      expect(elapsed).toBeLessThanOrEqual((KEY_CACHE_SECONDS + KEY_KV_FRESH_SECONDS) * 1000 + 1_000);
    }, 120_000);
  });

  describe('deployment settings and rollouts', () => {
    it('saves scaling, batching and cache settings, rolls v2 out as a canary and promotes it by hand', async () => {
      const email = unique('rollout');
      const { client: user } = await registered(email, 'Ravi');
      const model = await user.request('post', '/v1/models', { body: { name: 'rollout-cls' } });
      const bytes = await readFile(REAL_MODELS.paddleCls);
      for (let i = 0; i < 2; i++)
        await uploadModelVersion(user, { modelId: model.id, source: memorySource('cls.onnx', bytes) });
      const created = await user.request('post', '/v1/deployments', {
        body: { name: 'rollout-cls', model: model.id, version: 1, gpuType: 'cpu' },
      });
      await waitForDeployment(user, created.id, { timeoutMs: 120_000 });
      const current = () => user.request('get', '/v1/deployments/{id}', { path: { id: created.id } });

      const p = await loggedInPage(email);
      await p.goto(`${stack.cp.url}/deployments/${created.id}`);
      // Asked by number: the version, with no aside repeating it.
      const modelFact = p
        .locator('dl.facts dt', { hasText: 'Model' })
        .locator('xpath=following-sibling::dd[1]');
      expect((await modelFact.textContent())?.trim()).toBe('rollout-cls version 1');
      const settings = p.getByRole('region', { name: 'Scaling and serving' });
      await settings.getByLabel('Calls in flight per replica').fill('4');
      await settings.getByLabel('Hold calls for (s)').fill('45');
      await settings.getByLabel(/Own batch settings/).check();
      await settings.getByLabel('Largest batch (calls)').fill('8');
      await settings.getByLabel('Batch wait (ms)').fill('2');
      await settings.getByLabel(/answers repeats from its cache/).check();
      await settings.getByRole('button', { name: 'Save settings' }).click();
      await settings.getByRole('status').filter({ hasText: 'Saved' }).waitFor();
      // The events follow the deployment on their own: the change is listed without a reload.
      await p
        .getByRole('region', { name: 'Events' })
        .getByText(/Changed .*targetConcurrency/)
        .waitFor({ timeout: 20_000 });
      expect(await current()).toMatchObject({
        targetConcurrency: 4,
        holdTimeoutSeconds: 45,
        batching: { maxBatchSize: 8, maxQueueDelayMs: 2 },
        deterministic: true,
        // What the form did not change stays as it was.
        minReplicas: 1,
        scaleDownDelaySeconds: 30,
      });
      // The API's refusal shows, naming the field.
      await settings.getByLabel('Maximum replicas').fill('50');
      await settings.getByRole('button', { name: 'Save settings' }).click();
      await settings.getByRole('alert').filter({ hasText: 'maxReplicas' }).waitFor();
      await settings.getByLabel('Maximum replicas').fill('1');

      const rollout = p.getByRole('region', { name: 'Roll out a version' });
      await rollout.getByLabel('Version').selectOption('2');
      await rollout.getByLabel('Steps (% of calls)').fill('25, 50');
      await rollout.getByLabel('Each step lasts (s)').fill('600');
      await rollout.getByRole('button', { name: 'Roll out' }).click();
      // The traffic section shows the canary's share within the page's refresh.
      await p.getByText('canary in progress').waitFor();
      expect((await current()).rollout).toMatchObject({ state: 'canary', version: 2, steps: [0.25, 0.5, 1] });
      await screenshot(p, 'deployment-canary');
      // The list says so too, with replicas counted against what the autoscaler wants.
      await p.goto(`${stack.cp.url}/deployments`);
      const row = p.getByRole('row').filter({ hasText: 'rollout-cls' });
      await row.getByText('rollout-cls v1 → v2 (25% as a canary)').waitFor();
      expect(await row.getByRole('cell').nth(3).textContent()).toMatch(/^\d+ \/ \d+( \(\+\d+ canary\))?$/);
      await p.goto(`${stack.cp.url}/deployments/${created.id}`);
      await rollout.getByRole('button', { name: 'Promote v2 now' }).click();
      await waitUntil(
        async () => (await current()).version.version,
        (v) => v === 2,
        { timeoutMs: 30_000, what: 'v2 serving' },
      );
      expect((await current()).rollout?.state).toBe('promoted');
      await p
        .getByText(/rollout-cls.{0,3}version 2/)
        .first()
        .waitFor();
      // Events newest first: the deployment's creation, its oldest, is last on the page or on a later one.
      await p.getByRole('heading', { name: 'Events, newest first' }).waitFor();
      const types = await p.locator('ul.events .badge').allTextContents();
      expect(types.length).toBeGreaterThan(1);
      expect(types[0]).not.toBe('created');
      expect([-1, types.length - 1]).toContain(types.indexOf('created'));
    }, 240_000);
  });

  describe('usage', () => {
    it('shows N on the calls chart for a day with N predictions', async () => {
      const N = 7;
      const email = unique('usage');
      const { client: user } = await registered(email, 'Uma');
      const model = await user.request('post', '/v1/models', { body: { name: 'usage-cls' } });
      await uploadModelVersion(user, {
        modelId: model.id,
        source: memorySource('cls.onnx', await readFile(REAL_MODELS.paddleCls)),
      });
      const deployment = await user.request('post', '/v1/deployments', {
        body: {
          name: 'usage-cls',
          model: model.id,
          version: 1,
          gpuType: 'cpu',
          minReplicas: 1,
          maxReplicas: 1,
        },
      });
      await waitForDeployment(user, deployment.id, { timeoutMs: 120_000 });
      const key = await user.request('post', '/v1/api-keys', {
        body: { name: 'usage', scopes: ['predict'] },
      });
      await waitUntil(
        async () => (await predictWithKey(key.secret, 'usage-cls')).status,
        (s) => s === 200,
        {
          timeoutMs: 30_000,
          what: 'the first prediction',
        },
      );
      for (let i = 1; i < N; i++) expect((await predictWithKey(key.secret, 'usage-cls')).status).toBe(200);
      const today = new Date().toISOString().slice(0, 10);
      const callsToday = async () => {
        const usage = await user.request('get', '/v1/billing/usage', { query: { groupBy: 'day' } });
        return usage.lines
          .filter((l) => l.key === today && l.meter === 'inference_calls')
          .reduce((s, l) => s + l.rawQuantity, 0);
      };
      await waitUntil(callsToday, (n) => n === N, {
        timeoutMs: 60_000,
        intervalMs: 500,
        what: `${N} calls in the ledger`,
      });

      const p = await loggedInPage(email);
      await p.goto(`${stack.cp.url}/usage`);
      const bar = p
        .locator(`[data-testid=usage-by-day] figure`)
        .first()
        .locator(`g.bar[data-label="${today}"]`);
      await bar.waitFor();
      expect(await bar.getAttribute('data-value')).toBe(String(N));
      expect(await bar.locator('text.chart-value').textContent()).toBe(String(N));
      // Per deployment, by the name its owner gave it.
      const perDeployment = p.getByRole('region', { name: 'Usage per deployment' });
      await expect(perDeployment.getByRole('cell').first().textContent()).resolves.toBe('usage-cls');
      await screenshot(p, 'usage-with-calls');
    }, 240_000);
  });

  describe('notebooks', () => {
    it("opens a notebook from the dashboard in a new tab, and Jupyter's UI shows through the edge", async () => {
      const p = await loggedInPage(ownerEmail);
      await p.goto(`${stack.cp.url}/notebooks`);
      await p.getByLabel('Notebook name').fill('scratch');
      await p.getByLabel('GPU type').selectOption('cpu');
      await p.getByRole('button', { name: 'Create notebook' }).click();
      const open = p.getByRole('button', { name: 'Open scratch (new tab)' });
      // The list shows a notebook as it was when loaded: refresh until it runs (Jupyter starts in seconds).
      await waitUntil(
        async () => {
          await p.getByRole('button', { name: 'Refresh' }).click();
          await p.waitForTimeout(1_000);
          return open.count();
        },
        (count) => count > 0,
        { timeoutMs: 180_000, intervalMs: 1_000, what: 'the notebook running in the dashboard' },
      );
      const [tab] = await Promise.all([p.context().waitForEvent('page'), open.click()]);
      // The edge trades the token for its cookie and redirects to the address without it; Jupyter's file
      // tree then loads through the edge, assets and API calls authorised by that cookie alone.
      const loads = pageLoadsOf(tab);
      await tab.waitForURL(/\/notebooks\/nb_[0-9a-z]+\/tree/, { timeout: 120_000 }).catch(async (err) => {
        // Say what the tab showed instead: the answers to its page loads and the text on it.
        const body = await tab.locator('body').innerText({ timeout: 5_000 }).catch(String);
        const text = body.slice(0, 600);
        throw new Error(`${err.message}\npage loads: ${loads.join(', ')}\nshown: ${text}`);
      });
      await tab.locator('#notebook_list').waitFor({ timeout: 120_000 });
      // On the notebook's own origin, with the edge's scheme and port.
      const { port } = new URL(stack.edge.url);
      expect(tab.url()).toMatch(new RegExp(`^http://nb-[0-9a-z]+\\.notebooks\\.localhost:${port}/`));
      expect(tab.url()).not.toContain('access_token');
      const cookies = await tab.context().cookies(tab.url());
      expect(cookies.some((c) => c.httpOnly && c.path.startsWith('/notebooks/'))).toBe(true);
      await screenshot(tab, 'notebook-opened-from-dashboard');
    }, 420_000);
  });

  describe('an expiring session', () => {
    it('renews the access token from the cookie mid-use, and the form goes through', async () => {
      await page.goto(`${stack.cp.url}/keys`);
      await page.getByLabel('Name', { exact: true }).fill('after-expiry');
      const refreshes: number[] = [];
      page.on('response', (r) => {
        if (r.url().endsWith('/v1/auth/refresh')) refreshes.push(r.status());
      });
      await page.waitForTimeout((ACCESS_TTL_SECONDS + 1) * 1000);
      await page.getByRole('button', { name: 'Create key' }).click();
      await page.getByRole('status').filter({ hasText: 'Shown this once' }).waitFor();
      expect(refreshes).toContain(200);
    }, 90_000);

    it("keeps a deployment's page, and what was typed in its settings, while the session that ended is renewed", async () => {
      const { email, user, deployment } = await userWithDeployment('kept-cls');
      const p = await loggedInPage(email);
      const { id } = deployment;
      await p.goto(`${stack.cp.url}/deployments/${id}`);
      const settings = p.getByRole('region', { name: 'Scaling and serving' });
      await settings.getByLabel('Calls in flight per replica').fill('7');
      // The refresh cookie goes and the access token runs out: the page's own refresh finds the login ended.
      await p.context().clearCookies();
      const dialog = p.getByRole('dialog', { name: 'Your session has expired' });
      await dialog.waitFor({ timeout: (ACCESS_TTL_SECONDS + 15) * 1000 });
      // Behind the dialog the page is as it was, not the API's 401.
      await p.getByRole('heading', { name: 'Deployment kept-cls' }).waitFor();
      expect(await p.getByRole('main').textContent()).not.toContain('Authorization');
      await dialog.getByLabel('Password').fill(PASSWORD);
      await dialog.getByRole('button', { name: 'Log in' }).click();
      await dialog.waitFor({ state: 'detached' });
      expect(await settings.getByLabel('Calls in flight per replica').inputValue()).toBe('7');
      await settings.getByRole('button', { name: 'Save settings' }).click();
      await settings.getByRole('status').filter({ hasText: 'Saved' }).waitFor();
      const saved = await user.request('get', '/v1/deployments/{id}', { path: { id } });
      expect(saved.targetConcurrency).toBe(7);
    }, 120_000);

    it('loads what a page could not load while the session was gone once logged in again, in words meanwhile', async () => {
      const email = unique('returning');
      const { client: user } = await registered(email, 'Rey');
      await user.request('post', '/v1/models', { body: { name: 'after-login' } });
      const p = await loggedInPage(email);
      await p.context().clearCookies();
      await p.waitForTimeout((ACCESS_TTL_SECONDS + 1) * 1000);
      // A page opened now cannot load: the dialog opens over it, and the page says why in a person's words.
      await p.getByRole('link', { name: 'Models' }).click();
      const dialog = p.getByRole('dialog', { name: 'Your session has expired' });
      await dialog.waitFor();
      await p
        .getByRole('alert')
        .filter({ hasText: 'Your session has ended: log in again to see this' })
        .waitFor();
      expect(await p.getByRole('main').textContent()).not.toContain('refresh token');
      await dialog.getByLabel('Password').fill(PASSWORD);
      await dialog.getByRole('button', { name: 'Log in' }).click();
      await dialog.waitFor({ state: 'detached' });
      await p
        .getByRole('region', { name: 'Models', exact: true })
        .getByRole('link', { name: 'after-login' })
        .waitFor();
      expect(await p.getByRole('alert').count()).toBe(0);
    }, 90_000);

    it('opens a login over the page when the session is gone, keeping what was typed', async () => {
      await page.goto(`${stack.cp.url}/keys`);
      await page.getByLabel('Name', { exact: true }).fill('typed-before-expiry');
      // The refresh cookie goes (expired, revoked, cleared) and then the access token runs out.
      await context.clearCookies();
      await page.waitForTimeout((ACCESS_TTL_SECONDS + 1) * 1000);
      await page.getByRole('button', { name: 'Create key' }).click();
      const dialog = page.getByRole('dialog', { name: 'Your session has expired' });
      await dialog.waitFor();
      await screenshot(page, 'session-expired');
      await dialog.getByLabel('Password').fill(PASSWORD);
      await dialog.getByRole('button', { name: 'Log in' }).click();
      await dialog.waitFor({ state: 'detached' });
      expect(await page.getByLabel('Name', { exact: true }).inputValue()).toBe('typed-before-expiry');
      await page.getByRole('button', { name: 'Create key' }).click();
      await page.getByRole('status').filter({ hasText: 'Shown this once' }).waitFor();
      const keys = await collect(owner.list('/v1/api-keys'));
      expect(keys.map((k) => k.name)).toContain('typed-before-expiry');
    }, 90_000);
  });
});
