import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  collect,
  MemoryTokenStore,
  MeridianClient,
  memorySource,
  tokensFrom,
  uploadModelVersion,
  waitForDeployment,
} from '@meridian/sdk';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildMlp } from '../gpu-agent/src/onnx/testing/mlp.js';
import { buildCli } from './helpers/cli.js';
import { dropFile, launchChromium, screenshot } from './helpers/dashboard-browser.js';
import { joinByInvitation } from './helpers/invitations.js';
import { type Stack, startStack } from './helpers/stack.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const PASSWORD = 'correct horse battery staple';
const DESKTOP = { width: 1280, height: 900 };
// A model whose input has a fixed size larger than a handful of values: x[batch, 64] → y[batch, 2].
const WIDE_MLP = { inputs: 64, hidden: 8, outputs: 2, seed: 3 };

const unique = (name: string) => `${name}-${Math.random().toString(36).slice(2, 8)}@example.com`;

/**
 * The dashboard as a new user meets it, in Chromium against the real platform: what they copy from it works
 * when pasted, what they named is shown by name, and the pages they reach by ordinary moves (a bookmark, the
 * org switcher, a plan change) show what is so. Screenshots of failures land in test-results/dashboard/.
 */
describe('the web dashboard for a first-time user', () => {
  let stack: Stack;
  let browser: Browser;
  let cli: Awaited<ReturnType<typeof buildCli>>;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];

  const registered = async (email: string, name: string) => {
    const store = new MemoryTokenStore();
    const client = new MeridianClient({ baseUrl: stack.cp.url, edgeUrl: stack.edge.url, tokens: store });
    const pair = await client.request('post', '/v1/auth/register', {
      body: { email, password: PASSWORD, name },
    });
    await store.save(tokensFrom(pair));
    return { client, org: pair.org };
  };
  /** Model `name` with the wide MLP uploaded as its version 1 (from run `runId`, when given). */
  const wideMlpModel = async (client: MeridianClient, name: string, runId?: string) => {
    const model = await client.request('post', '/v1/models', { body: { name } });
    await uploadModelVersion(client, {
      modelId: model.id,
      ...(runId === undefined ? {} : { runId }),
      source: memorySource('mlp.onnx', buildMlp(WIDE_MLP)),
    });
    return model;
  };
  /** The first run's upload step, given the wide MLP under `name`: what the user types and drops. */
  const dropWideMlp = async (page: Page, name: string) => {
    await page.getByLabel('Model name').fill(name);
    await dropFile(
      page,
      '[data-testid=drop-zone]',
      'mlp.onnx',
      buildMlp(WIDE_MLP),
      'application/octet-stream',
    );
  };
  const loggedInPage = async (email: string): Promise<Page> => {
    const ctx = await browser.newContext({ viewport: DESKTOP, locale: 'en-US' });
    ctx.setDefaultTimeout(60_000);
    ctx.on('weberror', (e) => pageErrors.push(e.error().message));
    ctx.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    contexts.push(ctx);
    const p = await ctx.newPage();
    await p.goto(`${stack.cp.url}/login`);
    await p.getByLabel('Email').fill(email);
    await p.getByLabel('Password').fill(PASSWORD);
    await p.getByRole('button', { name: 'Log in' }).click();
    await p.getByRole('navigation', { name: 'Main' }).waitFor();
    return p;
  };
  /** Runs a snippet as pasted into bash, `npx meridian` being the built CLI (as test/cli-e2e.test.ts does). */
  const paste = async (snippet: string, env: Record<string, string>) => {
    const dir = await mkdtemp(join(tmpdir(), 'dashboard-snippet-'));
    const shim = `npx() { if [ "$1" = meridian ]; then shift; node ${cli.bundle} "$@"; else command npx "$@"; fi; }`;
    try {
      return await promisify(execFile)('bash', ['-euo', 'pipefail', '-c', `${shim}\n${snippet}`], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, MERIDIAN_CONFIG_DIR: dir, ...env },
        timeout: 60_000,
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  beforeAll(async () => {
    // As `npm start` does: build the app when it is missing or older than its sources.
    execFileSync(process.execPath, ['scripts/build-dashboard.mjs'], { cwd: REPO_ROOT, stdio: 'inherit' });
    stack = await startStack('dashboard-first-user');
    browser = await launchChromium();
    cli = await buildCli(() => ({}));
  }, 300_000);

  afterEach(async (ctx) => {
    if (ctx.task.result?.state !== 'fail') return;
    for (const [i, c] of contexts.entries())
      for (const [j, p] of c.pages().entries())
        await screenshot(p, `first-user-failure-${i}-${j}`).catch(() => undefined);
    console.error(`${stack.logs()}\n--- browser ---\n${pageErrors.join('\n')}`);
  });

  afterAll(async () => {
    for (const ctx of contexts) await ctx.close().catch(() => undefined);
    await browser?.close();
    await cli?.remove();
    await stack?.stop();
  });

  it('gives curl and CLI snippets that answer when pasted, for an input of 64 values', async () => {
    const email = unique('sam');
    await registered(email, 'Sam');
    const page = await loggedInPage(email);
    await dropWideMlp(page, 'wide-mlp');
    await page.getByText('Uploaded mlp.onnx as version 1').waitFor();
    await page.getByRole('button', { name: 'Deploy' }).click();
    await page.getByRole('status').filter({ hasText: 'wide-mlp: ready' }).waitFor({ timeout: 120_000 });
    await page.getByRole('button', { name: 'Create key' }).click();
    const key = (await page.getByTestId('api-key-secret').textContent()) ?? '';
    const snippet = (title: RegExp) => page.getByRole('figure', { name: title }).locator('pre').textContent();

    const curl = (await snippet(/^curl/)) ?? '';
    const byCurl = await paste(curl, { MERIDIAN_API_KEY: key });
    const answer = JSON.parse(byCurl.stdout) as { outputs: { name: string; shape: number[] }[] };
    expect(answer.outputs).toMatchObject([{ name: 'y', shape: [1, 2] }]);

    const cliSnippet = (await snippet(/^Meridian CLI/)) ?? '';
    expect(cliSnippet).toContain('npx meridian predict wide-mlp');
    const byCli = await paste(cliSnippet, { MERIDIAN_API_KEY: key });
    const answers = byCli.stdout.trim().split('\n');
    expect(answers.length).toBeGreaterThan(0);
    for (const line of answers)
      expect((JSON.parse(line) as typeof answer).outputs).toMatchObject([{ name: 'y', shape: [1, 2] }]);
  }, 300_000);

  it('shows why a deployment name is taken, and offers another that deploys', async () => {
    const email = unique('tara');
    const { client: tara } = await registered(email, 'Tara');
    const page = await loggedInPage(email);
    await dropWideMlp(page, 'taken-mlp');
    await page.getByText('Uploaded mlp.onnx as version 1').waitFor();
    // Meanwhile (from the CLI, say) a deployment takes the name the step offers.
    const [model] = await collect(tara.list('/v1/models'));
    await tara.request('post', '/v1/deployments', {
      body: {
        name: 'taken-mlp',
        model: model?.id ?? '',
        version: 1,
        gpuType: 'cpu',
        minReplicas: 0,
        maxReplicas: 1,
      },
    });
    await page.getByRole('button', { name: 'Deploy' }).click();
    await page
      .getByRole('alert')
      .filter({ hasText: 'A deployment named "taken-mlp" already exists' })
      .waitFor();
    // Or the one that has it, which serves this very version already: a link to it, and nothing to roll.
    await page.getByText('taken-mlp serves v1 already: open taken-mlp.').waitFor();
    expect(await page.getByRole('button', { name: /^Deploy v/ }).count()).toBe(0);
    await page.getByRole('button', { name: 'Name it taken-mlp-2' }).click();
    expect(await page.getByLabel('Deployment name').inputValue()).toBe('taken-mlp-2');
    await page.getByRole('button', { name: 'Deploy' }).click();
    await page.getByRole('status').filter({ hasText: 'taken-mlp-2:' }).waitFor({ timeout: 30_000 });
    expect(await page.getByRole('alert').count()).toBe(0);
  }, 240_000);

  it('rolls the deployment of a taken name to the version just uploaded, in place, and links to it', async () => {
    const email = unique('uma');
    const { client: uma } = await registered(email, 'Uma');
    const model = await wideMlpModel(uma, 'roll-mlp');
    const before = await uma.request('post', '/v1/deployments', {
      body: { name: 'roll-mlp', model: model.id, version: 1, gpuType: 'cpu' },
    });
    await waitForDeployment(uma, before.id, { timeoutMs: 120_000 });
    const page = await loggedInPage(email);
    // A new version of the model that deployment serves, from Get started.
    await page.getByLabel('Model name').fill('roll-mlp');
    await dropFile(page, '[data-testid=drop-zone]', 'mlp-v2.onnx', buildMlp({ ...WIDE_MLP, seed: 4 }), '');
    await page.getByText('Uploaded mlp-v2.onnx as version 2 of roll-mlp').waitFor({ timeout: 20_000 });
    await page.getByRole('button', { name: 'Deploy', exact: true }).click();
    await page
      .getByRole('alert')
      .filter({ hasText: 'A deployment named "roll-mlp" already exists' })
      .waitFor();
    await page.getByText('roll-mlp serves v1 of roll-mlp.').waitFor();
    // Through the route `meridian deploy` updates a deployment with: its version, nothing else.
    const patched = page.waitForRequest(
      (r) => r.method() === 'PATCH' && new URL(r.url()).pathname === `/v1/deployments/${before.id}`,
    );
    await page.getByRole('button', { name: 'Deploy v2 to roll-mlp' }).click();
    expect((await patched).postDataJSON()).toEqual({ version: 2 });
    await page.getByRole('status').filter({ hasText: 'Deploying v2 to roll-mlp: pending' }).waitFor();
    await page
      .getByRole('status')
      .filter({ hasText: 'roll-mlp serves v2 now: ready' })
      .waitFor({ timeout: 120_000 });
    expect(await page.getByRole('alert').count()).toBe(0);
    const link = page.getByRole('link', { name: 'Open roll-mlp' });
    expect(await link.getAttribute('href')).toBe(`/deployments/${before.id}`);
    // The same deployment, not another beside it; and Get started goes on with it.
    const deployments = await collect(uma.list('/v1/deployments'));
    expect(deployments.map((d) => [d.id, d.name, d.version.version])).toEqual([[before.id, 'roll-mlp', 2]]);
    await page.getByRole('button', { name: 'Create key' }).waitFor();
    await link.click();
    await page.getByRole('heading', { name: 'Deployment roll-mlp' }).waitFor();
    expect(new URL(page.url()).pathname).toBe(`/deployments/${before.id}`);
  }, 300_000);

  it('says in words why the API refused to roll a taken deployment forward, and leaves it as it was', async () => {
    const ownerEmail = unique('olga');
    const { client: olga, org } = await registered(ownerEmail, 'Olga');
    const model = await wideMlpModel(olga, 'shared-mlp');
    const shared = await olga.request('post', '/v1/deployments', {
      body: {
        name: 'shared-mlp',
        model: model.id,
        version: 1,
        gpuType: 'cpu',
        minReplicas: 0,
        maxReplicas: 1,
      },
    });
    const email = unique('max');
    const { client: max } = await registered(email, 'Max');
    await joinByInvitation(olga, max, email, 'member');
    const page = await loggedInPage(email);
    await page.getByLabel('Organisation').selectOption(org.id);
    await page.getByRole('button', { name: /^Switch to/ }).click();
    await page.getByText('member', { exact: true }).waitFor();
    await page.getByLabel('Model name').fill('shared-mlp');
    await dropFile(page, '[data-testid=drop-zone]', 'mlp-v2.onnx', buildMlp({ ...WIDE_MLP, seed: 4 }), '');
    await page.getByText('Uploaded mlp-v2.onnx as version 2 of shared-mlp').waitFor({ timeout: 20_000 });
    await page.getByRole('button', { name: 'Deploy', exact: true }).click();
    const roll = page.getByRole('button', { name: 'Deploy v2 to shared-mlp' });
    await roll.waitFor();
    // Meanwhile the owner makes Max a viewer: the page still offers the roll, and the API refuses it.
    const members = await collect(olga.list('/v1/org/members'));
    const userId = members.find((m) => m.email === email)?.userId ?? '';
    await olga.request('patch', '/v1/org/members/{userId}', { path: { userId }, body: { role: 'viewer' } });
    await roll.click();
    const refusal = page.getByRole('alert').filter({ hasText: 'v2 was not deployed to shared-mlp:' });
    await refusal.waitFor();
    expect(await refusal.textContent()).toMatch(/you are a viewer here/);
    // Nothing rolled: the offer stands for when the role is back, and the deployment serves v1 still.
    await roll.waitFor();
    const after = await olga.request('get', '/v1/deployments/{id}', { path: { id: shared.id } });
    expect(after.version.version).toBe(1);
  }, 240_000);

  it('says at once why a deployment on hardware no host has cannot start, and deploys it on other hardware', async () => {
    const email = unique('noor');
    const { client: noor } = await registered(email, 'Noor');
    const page = await loggedInPage(email);
    await dropWideMlp(page, 'gpu-mlp');
    await page.getByText('Uploaded mlp.onnx as version 1').waitFor();
    // The test's agent has no GPU: the scheduler's refusal shows within seconds, not after a 5-minute wait.
    await page.getByLabel('Hardware').selectOption('t4');
    await page.getByRole('button', { name: 'Deploy' }).click();
    const alert = page.getByRole('alert').filter({ hasText: 'No host can run gpu-mlp on t4 now' });
    await alert.waitFor({ timeout: 30_000 });
    await expect(alert.textContent()).resolves.toMatch(/no online host .*T4/);
    await expect(page.getByLabel('Hardware').isDisabled()).resolves.toBe(false);

    await page.getByLabel('Hardware').selectOption('cpu');
    await page.getByRole('button', { name: 'Deploy again' }).click();
    await page.getByRole('status').filter({ hasText: 'gpu-mlp: ready' }).waitFor({ timeout: 120_000 });
    expect(await page.getByRole('alert').count()).toBe(0);
    // Replaced, not added beside it.
    const deployments = await collect(noor.list('/v1/deployments'));
    expect(deployments.map((d) => [d.name, d.gpuType])).toEqual([['gpu-mlp', 'cpu']]);
  }, 240_000);

  it('lets a Free user past the model limit: the deployment, then the model, are deleted from their pages', async () => {
    const email = unique('fay');
    const { client: fay } = await registered(email, 'Fay');
    const model = await wideMlpModel(fay, 'first-mlp');
    const deployment = await fay.request('post', '/v1/deployments', {
      body: { name: 'first-mlp', model: model.id, version: 1, gpuType: 'cpu' },
    });
    const page = await loggedInPage(email);
    // A second model is over the Free plan's one: the refusal says to delete a model first.
    await dropWideMlp(page, 'second-mlp');
    await page.getByRole('alert').filter({ hasText: 'delete a model first' }).waitFor({ timeout: 20_000 });

    // A deployed model is refused, with the API's reason, which names the deployment.
    await page.goto(`${stack.cp.url}/models/${model.id}`);
    await page.getByRole('button', { name: 'Delete first-mlp' }).click();
    await page.getByRole('button', { name: 'Yes, delete first-mlp and every version' }).click();
    await page
      .getByRole('alert')
      .filter({ hasText: 'is deployed by deployment "first-mlp"; delete it first' })
      .waitFor({ timeout: 20_000 });

    await page.goto(`${stack.cp.url}/deployments/${deployment.id}`);
    await page.getByRole('button', { name: 'Delete first-mlp' }).click();
    await page.getByRole('button', { name: 'Yes, delete first-mlp and stop its replicas' }).click();
    await page.getByText('No deployments yet').waitFor({ timeout: 20_000 });
    expect(new URL(page.url()).pathname).toBe('/deployments');

    await page.goto(`${stack.cp.url}/models/${model.id}`);
    await page.getByRole('button', { name: 'Delete first-mlp' }).click();
    await page.getByRole('button', { name: 'Yes, delete first-mlp and every version' }).click();
    await page.getByText('No models yet').waitFor({ timeout: 20_000 });

    await page.goto(`${stack.cp.url}/`);
    await dropWideMlp(page, 'second-mlp');
    await page.getByText('Uploaded mlp.onnx as version 1 of second-mlp').waitFor({ timeout: 20_000 });
  }, 180_000);

  it('adds the file to the model of the name given on Get started, as `meridian models push` does', async () => {
    const email = unique('remy');
    const { client: remy } = await registered(email, 'Remy');
    // Uploaded on an earlier visit under Get started's own default name.
    await wideMlpModel(remy, 'my-model');
    const page = await loggedInPage(email);
    expect(await page.getByLabel('Model name').inputValue()).toBe('my-model');
    await dropFile(
      page,
      '[data-testid=drop-zone]',
      'mlp.onnx',
      buildMlp(WIDE_MLP),
      'application/octet-stream',
    );
    await page.getByText('Uploaded mlp.onnx as version 2 of my-model').waitFor({ timeout: 20_000 });
    expect(await page.getByRole('alert').count()).toBe(0);
    const models = await collect(remy.list('/v1/models'));
    expect(models.map((m) => [m.name, m.latestVersion])).toEqual([['my-model', 2]]);
  }, 120_000);

  describe('an owner with a model trained in a run', () => {
    const ownerEmail = unique('grace');
    let owner: MeridianClient;
    let org: { id: string; name: string };
    let modelId = '';
    let page: Page;

    beforeAll(async () => {
      ({ client: owner, org } = await registered(ownerEmail, 'Grace'));
      const experiment = await owner.request('post', '/v1/experiments', { body: { name: 'mlp-training' } });
      const run = await owner.request('post', '/v1/experiments/{id}/runs', {
        path: { id: experiment.id },
        body: { name: 'baseline' },
      });
      modelId = (await wideMlpModel(owner, 'trained-mlp', run.id)).id;
      await owner.request('put', '/v1/billing/plan', { body: { plan: 'pro' } });
      page = await loggedInPage(ownerEmail);
    }, 120_000);

    it('names the run a version came from, not its id', async () => {
      await page.goto(`${stack.cp.url}/models/${modelId}`);
      await page.getByRole('heading', { name: 'Version 1' }).waitFor();
      const from = page.getByText(/^From run/);
      await from.getByRole('link', { name: 'baseline' }).waitFor();
      await expect(from.textContent()).resolves.toBe('From run baseline in experiment mlp-training');
      expect(await page.getByRole('main').textContent()).not.toMatch(/run_[0-9a-z]{26}/);
    }, 120_000);

    it('names a run created without a name by when it started, in the runs table and on its page', async () => {
      const experiment = await owner.request('post', '/v1/experiments', { body: { name: 'sweep' } });
      const run = await owner.request('post', '/v1/experiments/{id}/runs', {
        path: { id: experiment.id },
        body: {},
      });
      await page.goto(`${stack.cp.url}/experiments/${experiment.id}`);
      const link = page.getByRole('region', { name: 'Runs table' }).getByRole('link', { name: /^Run of / });
      await link.click();
      await page.getByRole('heading', { name: /^Run of .*\d:\d\d:\d\d/ }).waitFor();
      expect(new URL(page.url()).pathname).toBe(`/runs/${run.id}`);
      expect(await page.getByRole('main').textContent()).not.toMatch(/run_[0-9a-z]{26}/);
    }, 120_000);

    it("clears the alias form's API error once its version is changed, even to one the browser refuses", async () => {
      await page.goto(`${stack.cp.url}/models/${modelId}`);
      const form = page.getByRole('form', { name: 'Set an alias' });
      await form.getByLabel('Version').fill('99');
      await form.getByRole('button', { name: 'Set alias' }).click();
      const error = form.getByRole('alert');
      await error.waitFor();
      expect(await error.textContent()).toMatch(/99/);
      // 0 is below the input's minimum: the browser blocks the submit, and the 99 error no longer applies.
      await form.getByLabel('Version').fill('0');
      await form.getByRole('button', { name: 'Set alias' }).click();
      await error.waitFor({ state: 'detached' });
      expect(await form.getByLabel('Version').evaluate((i) => (i as HTMLInputElement).validity.valid)).toBe(
        false,
      );
    }, 120_000);

    it('uploads a new version of the model from its page, with its signature', async () => {
      await page.goto(`${stack.cp.url}/models/${modelId}`);
      const upload = page.getByRole('region', { name: 'Upload a new version' });
      await dropFile(page, '[data-testid=drop-zone]', 'mlp-v2.onnx', buildMlp({ ...WIDE_MLP, seed: 4 }), '');
      await upload.getByRole('status').filter({ hasText: 'Uploaded mlp-v2.onnx as version 2.' }).waitFor();
      const v2 = page.getByRole('article').filter({ has: page.getByRole('heading', { name: /^Version 2/ }) });
      await expect(v2.getByRole('region', { name: 'Signature' }).textContent()).resolves.toContain('[?, 64]');
    }, 120_000);

    it('names the organisation a plan change was made to, not its id', async () => {
      await page.goto(`${stack.cp.url}/audit`);
      const row = page.getByRole('row').filter({ hasText: 'billing.plan_change' });
      await expect.poll(() => row.getByRole('cell').nth(3).textContent()).toBe(org.name);
      expect(await page.getByRole('table').textContent()).not.toContain(org.id);
    }, 120_000);

    it('shows the plan it is on, offers no plan the API refuses, and the invoice follows a change at once', async () => {
      await page.goto(`${stack.cp.url}/usage`);
      const invoice = page.getByRole('region', { name: 'Upcoming invoice' });
      await invoice.getByText('Plan pro,').waitFor();
      const form = page.getByRole('form', { name: 'Change plan' });
      // The choice starts at the plan the organisation is on, so a glance does not read as another plan.
      await expect(form.getByLabel('Plan').inputValue()).resolves.toBe('pro');
      // Enterprise is a contract an operator sets: the API refuses it from an owner.
      await expect(form.getByRole('option', { name: /^Enterprise/ }).isDisabled()).resolves.toBe(true);
      await form.getByLabel('Plan').selectOption('free');
      await form.getByRole('button', { name: 'Change plan' }).click();
      await form.getByRole('status').filter({ hasText: 'Now on free' }).waitFor({ timeout: 20_000 });
      await invoice.getByText('Plan free,').waitFor({ timeout: 10_000 });
    }, 120_000);

    it('creates a key for Prometheus scraping (the metrics scope), which /v1/metrics/prometheus accepts', async () => {
      await page.goto(`${stack.cp.url}/keys`);
      const form = page.getByRole('form', { name: 'New API key' });
      await form.getByLabel('Name', { exact: true }).fill('prometheus');
      await form.getByRole('checkbox', { name: /^predict\b/ }).uncheck();
      await form.getByRole('checkbox', { name: /^metrics\b/ }).check();
      await form.getByRole('button', { name: 'Create key' }).click();
      const secret = (await form.getByRole('status').locator('code').textContent({ timeout: 20_000 })) ?? '';
      await page.getByRole('row').filter({ hasText: 'prometheus' }).getByText('metrics').waitFor();
      const scrape = await fetch(`${stack.cp.url}/v1/metrics/prometheus`, {
        headers: { authorization: `Bearer ${secret}` },
      });
      expect(scrape.status).toBe(200);
    }, 120_000);

    it('creates a key that predicts on the one deployment chosen for it, and the edge refuses it the other', async () => {
      const email = unique('kim');
      const { client: kim } = await registered(email, 'Kim');
      const model = await wideMlpModel(kim, 'scoped-mlp');
      for (const name of ['scoped-a', 'scoped-b']) {
        const created = await kim.request('post', '/v1/deployments', {
          body: { name, model: model.id, version: 1, gpuType: 'cpu' },
        });
        await waitForDeployment(kim, created.id, { timeoutMs: 120_000 });
      }
      const p = await loggedInPage(email);
      await p.goto(`${stack.cp.url}/keys`);
      const form = p.getByRole('form', { name: 'New API key' });
      await form.getByLabel('Name', { exact: true }).fill('only-a');
      await form.getByLabel(/^Predict on these deployments only/).selectOption(['scoped-a']);
      await form.getByRole('button', { name: 'Create key' }).click();
      const secret = (await form.getByRole('status').locator('code').textContent({ timeout: 20_000 })) ?? '';
      await p.getByRole('row').filter({ hasText: 'only-a' }).getByText('predict:scoped-a').waitFor();
      const predict = (name: string) =>
        fetch(`${stack.edge.url}/v1/deployments/${name}/predict`, {
          method: 'POST',
          headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
          body: JSON.stringify({ inputs: { x: [Array(WIDE_MLP.inputs).fill(0.5)] } }),
        });
      expect((await predict('scoped-a')).status).toBe(200);
      expect((await predict('scoped-b')).status).toBe(403);
    }, 300_000);

    it('takes a logged-in user who opens /login or /signup to the app, not to "Not found"', async () => {
      for (const path of ['/login', '/signup']) {
        await page.goto(`${stack.cp.url}${path}`);
        await page.getByRole('heading', { name: 'Get started' }).waitFor({ timeout: 20_000 });
        expect(new URL(page.url()).pathname).toBe('/');
        expect(await page.getByRole('heading', { name: 'Not found' }).count()).toBe(0);
      }
    }, 120_000);

    it('switching organisation on an experiment’s page goes to the new organisation’s experiments', async () => {
      // A member of Grace's organisation, on a page of their own.
      const email = unique('ravi');
      const { client: ravi } = await registered(email, 'Ravi');
      await joinByInvitation(owner, ravi, email, 'member');
      const experiment = await ravi.request('post', '/v1/experiments', { body: { name: 'ravi-exp' } });
      const p = await loggedInPage(email);
      await p.goto(`${stack.cp.url}/experiments/${experiment.id}`);
      await p.getByRole('heading', { name: 'Experiment ravi-exp' }).waitFor();
      await p.getByLabel('Organisation').selectOption(org.id);
      await p.getByRole('button', { name: /^Switch to/ }).click();
      await p.getByRole('heading', { name: 'Experiments', exact: true }).waitFor();
      expect(new URL(p.url()).pathname).toBe('/experiments');
      await p.getByRole('link', { name: 'mlp-training' }).waitFor();
      expect(await p.getByRole('alert').count()).toBe(0);
    }, 120_000);
  });
});
