import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ServerType, serve } from '@hono/node-server';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCaptured } from '../cli/src/main-captured.test-helper.js';
import { createTestApp, type Session } from '../control-plane/testing/test-app.js';
import { launchChromium, seriousViolations } from './helpers/dashboard-browser.js';
import { freePort } from './helpers/ports.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
/** One more than fits on a page of the API (50), and a third page of the dashboard's (20 a page). */
const MEMBERS = 55;

/**
 * An organisation with more members than one page of GET /v1/org/members, on a real control plane (libsql)
 * served over HTTP: the API, the CLI and the dashboard (in Chromium) each reach every member.
 */
describe('an organisation with more members than a page', () => {
  let t: Awaited<ReturnType<typeof createTestApp>>;
  let server: ServerType;
  let browser: Browser;
  let url = '';
  let configDir = '';
  let owner: Session;
  /** E-mails, in the order their owners joined. */
  const joined: string[] = [];

  beforeAll(async () => {
    execFileSync(process.execPath, ['scripts/build-dashboard.mjs'], { cwd: REPO_ROOT, stdio: 'inherit' });
    t = await createTestApp();
    const port = await freePort();
    server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: t.app.fetch, hostname: '127.0.0.1', port }, () => resolve(s));
    });
    url = `http://127.0.0.1:${port}`;
    configDir = await mkdtemp(join(tmpdir(), 'members-paging-'));
    browser = await launchChromium();
    owner = await t.client.register('owner');
    joined.push(owner.email);
    for (let i = 1; i < MEMBERS; i++) {
      const name = `m${String(i).padStart(2, '0')}`;
      joined.push((await t.client.joinOrg(owner, await t.client.register(name), 'member')).email);
    }
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((r) => server.close(() => r()));
    t.cleanup();
    await rm(configDir, { recursive: true, force: true });
  });

  const cli = (args: string[]) =>
    runCaptured(args, {
      MERIDIAN_CONFIG_DIR: configDir,
      MERIDIAN_API_URL: url,
      MERIDIAN_TOKEN: owner.accessToken,
    });

  it('answers 50 a page through the API, and every member once by following nextCursor', async () => {
    const first = await t.client.call('GET', '/v1/org/members', { token: owner.accessToken });
    expect(first.json.items).toHaveLength(50);
    const second = await t.client.call('GET', `/v1/org/members?cursor=${first.json.nextCursor}`, {
      token: owner.accessToken,
    });
    expect(second.json.nextCursor).toBeNull();
    const emails = [...first.json.items, ...second.json.items].map((m: { email: string }) => m.email);
    expect(emails).toEqual(joined);
  });

  it('lists every member with the CLI, and finds one past the first page by e-mail', async () => {
    const listed = await cli(['members', 'list', '--json']);
    expect(listed.stderr).toBe('');
    expect(JSON.parse(listed.stdout).map((m: { email: string }) => m.email)).toEqual(joined);
    const last = joined.at(-1) ?? '';
    const table = await cli(['members', 'list']);
    expect(table.stdout).toContain(last);
    const changed = await cli(['members', 'role', last, 'viewer']);
    expect(changed.stderr).toBe('');
    expect(changed.code).toBe(0);
    const members = await t.client.call('GET', '/v1/org/members?limit=200', { token: owner.accessToken });
    expect(members.json.items.find((m: { email: string }) => m.email === last)?.role).toBe('viewer');
  });

  it('pages the dashboard’s members list, 20 at a time, and its audit log names every member', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    ctx.setDefaultTimeout(60_000);
    const page = await ctx.newPage();
    await page.goto(`${url}/login`);
    await page.getByLabel('Email').fill(owner.email);
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
    await page.getByRole('link', { name: 'Members' }).click();
    const table = page.getByRole('region', { name: 'Members table' });
    const pager = page.getByRole('navigation', { name: 'Members pages' });
    const emailsShown = () => table.locator('tbody tr td:nth-child(2)').allTextContents();
    await table.getByRole('cell', { name: joined[0], exact: true }).waitFor();
    expect(await emailsShown()).toEqual(joined.slice(0, 20));
    await pager.getByRole('button', { name: 'Next' }).click();
    await table.getByRole('cell', { name: joined[20], exact: true }).waitFor();
    expect(await emailsShown()).toEqual(joined.slice(20, 40));
    await pager.getByRole('button', { name: 'Next' }).click();
    await table.getByRole('cell', { name: joined[54], exact: true }).waitFor();
    expect(await emailsShown()).toEqual(joined.slice(40));
    expect(await pager.getByRole('button', { name: 'Next' }).isDisabled()).toBe(true);
    expect(await seriousViolations(page)).toEqual([]);
    await pager.getByRole('button', { name: 'Previous' }).click();
    await table.getByRole('cell', { name: joined[20], exact: true }).waitFor();
    // The audit log names people by e-mail from every page of members, and offers each one to filter by.
    await page.getByRole('link', { name: 'Audit log' }).click();
    const by = page.getByLabel('By');
    await by.locator('option', { hasText: joined[54] }).waitFor({ state: 'attached' });
    const offered = await by.locator('option').allTextContents();
    for (const email of joined) expect(offered).toContain(email);
    await ctx.close();
  }, 180_000);
});
