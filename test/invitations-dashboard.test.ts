import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type ServerType, serve } from '@hono/node-server';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type Session } from '../control-plane/testing/test-app.js';
import { launchChromium, seriousViolations } from './helpers/dashboard-browser.js';
import { freePort } from './helpers/ports.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const PASSWORD = 'correct horse battery';

/**
 * The dashboard's side of invitations in Chromium, on a real control plane (libsql) with no SMTP server: an
 * owner invites from the members page and gets the link, the invitee opens it, signs in and accepts.
 */
describe('invitations in the dashboard', () => {
  let t: Awaited<ReturnType<typeof createTestApp>>;
  let server: ServerType;
  let browser: Browser;
  let origin = '';
  let owner: Session;

  beforeAll(async () => {
    execFileSync(process.execPath, ['scripts/build-dashboard.mjs'], { cwd: REPO_ROOT, stdio: 'inherit' });
    t = await createTestApp();
    const port = await freePort();
    server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: t.app.fetch, hostname: '127.0.0.1', port }, () => resolve(s));
    });
    origin = `http://127.0.0.1:${port}`;
    browser = await launchChromium();
    owner = await t.client.register('owner');
    await t.client.call('PATCH', '/v1/org', { token: owner.accessToken, body: { name: 'Acme Vision' } });
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((r) => server.close(() => r()));
    t.cleanup();
  });

  const logIn = async (page: Page, email: string) => {
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
  };
  const newPage = async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    ctx.setDefaultTimeout(60_000);
    return ctx.newPage();
  };

  it('lets an owner invite from the members page and the invitee accept from the link', async () => {
    const invitee = await t.client.register('invitee');
    const admin = await newPage();
    await admin.goto(`${origin}/login`);
    await logIn(admin, owner.email);
    await admin.getByRole('link', { name: 'Members' }).click();
    await admin.getByLabel('Email to invite').fill(invitee.email);
    await admin.getByLabel('Role').selectOption('member');
    await admin.getByRole('button', { name: 'Invite' }).click();
    // No SMTP server here: the page says so in plain words, with the link to pass on.
    await admin
      .getByRole('status')
      .filter({ hasText: 'but no mail was sent (no SMTP server is configured (MERIDIAN_SMTP_HOST))' })
      .waitFor();
    const link = (await admin.getByTestId('invitation-link').textContent()) ?? '';
    expect(link).toMatch(/^http:\/\/127\.0\.0\.1:8080\/invitations\?token=[\w-]+$/);
    const pending = admin.getByRole('region', { name: 'Pending invitations table' });
    await pending.getByRole('cell', { name: invitee.email, exact: true }).waitFor();
    expect(await seriousViolations(admin)).toEqual([]);
    // Not a member yet: nobody joins without accepting.
    const members = await t.client.call('GET', '/v1/org/members', { token: owner.accessToken });
    expect(members.json.items.map((m: { email: string }) => m.email)).not.toContain(invitee.email);

    // The invitee follows the mailed link (on this server's origin), signs in, and lands back on it.
    const page = await newPage();
    await page.goto(link.replace('http://127.0.0.1:8080', origin));
    await logIn(page, invitee.email);
    // What they are accepting, before they do.
    const offer = page.getByRole('region', { name: 'Join Acme Vision' });
    await offer.getByRole('definition').filter({ hasText: owner.email }).waitFor();
    expect(await offer.getByRole('definition').allTextContents()).toEqual([
      'Acme Vision',
      'member',
      owner.email,
      expect.any(String),
    ]);
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByRole('button', { name: 'Accept the invitation to Acme Vision' }).click();
    await page.getByText('You joined Acme Vision as member.').waitFor();
    expect(new URL(page.url()).search).toBe('');
    await page.getByLabel('Organisation').selectOption(owner.orgId);
    await page.getByRole('button', { name: 'Switch to Acme Vision' }).click();
    await page.getByText('member', { exact: true }).waitFor();
    const after = await t.client.call('GET', '/v1/org/members', { token: owner.accessToken });
    expect(after.json.items.map((m: { email: string }) => m.email)).toContain(invitee.email);
  }, 180_000);

  it('shows nothing to the invited address without the link, and declines with it', async () => {
    // Anyone may register any address (none is verified): signed in as it, without the link, nothing shows.
    const dee = await t.client.register('dee');
    const { token } = await t.client.invite(owner, dee.email, 'viewer');
    const page = await newPage();
    await page.goto(`${origin}/login`);
    await logIn(page, dee.email);
    expect(await page.getByRole('link', { name: 'Invitations' }).count()).toBe(0);
    await page.goto(`${origin}/invitations`);
    await page.getByText('answered from the link in its e-mail').waitFor();
    expect(await page.getByText('Acme Vision').count()).toBe(0);
    expect(await page.getByRole('button', { name: /Accept/ }).count()).toBe(0);

    await page.goto(`${origin}/invitations?token=${token}`);
    await page.getByRole('region', { name: 'Join Acme Vision' }).waitFor();
    await page.getByRole('button', { name: 'Decline' }).click();
    await page.getByText('You declined the invitation to Acme Vision.').waitFor();
    expect(new URL(page.url()).search).toBe('');
    const log = await t.client.call('GET', '/v1/audit-log?action=invitation.decline', {
      token: owner.accessToken,
    });
    expect(log.json.items.map((e: { metadata: { email: string } }) => e.metadata.email)).toEqual([dee.email]);
  }, 120_000);

  it('keeps the link through signing up, for an address with no account yet', async () => {
    const email = `newcomer-${Date.now()}@example.com`;
    const { token } = await t.client.invite(owner, email, 'member');
    const page = await newPage();
    await page.goto(`${origin}/invitations?token=${token}`);
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.getByLabel('Name').fill('Newcomer');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    // Back on the invitation, not the first-run page a sign-up lands on otherwise.
    await page.getByRole('region', { name: 'Join Acme Vision' }).waitFor();
    await page.getByRole('button', { name: 'Accept the invitation to Acme Vision' }).click();
    await page.getByText('You joined Acme Vision as member.').waitFor();
    const after = await t.client.call('GET', '/v1/org/members', { token: owner.accessToken });
    expect(after.json.items.map((m: { email: string }) => m.email)).toContain(email);
  }, 120_000);

  it('drops from the pending list, and names, the invitations of a member the owner removes or demotes', async () => {
    const adminUser = await t.client.joinOrg(owner, await t.client.register('ada'), 'admin');
    const memberUser = await t.client.joinOrg(owner, await t.client.register('mo'), 'admin');
    const byAdmin = `by-ada-${Date.now()}@example.com`;
    const byMember = `by-mo-${Date.now()}@example.com`;
    await t.client.invite(adminUser, byAdmin, 'member');
    await t.client.invite(memberUser, byMember, 'viewer');
    const page = await newPage();
    await page.goto(`${origin}/login`);
    await logIn(page, owner.email);
    await page.getByRole('link', { name: 'Members' }).click();
    const pending = page.getByRole('region', { name: 'Pending invitations table' });
    await pending.getByRole('cell', { name: byAdmin, exact: true }).waitFor();
    await pending.getByRole('cell', { name: byMember, exact: true }).waitFor();

    // Removing the admin revokes what they sent: the list says so at once, not at the next page load.
    const members = page.getByRole('region', { name: 'Members table' });
    await members.getByRole('button', { name: 'Remove ada' }).click();
    await members.getByRole('button', { name: 'Yes, remove ada' }).click();
    await members.getByRole('cell', { name: adminUser.email, exact: true }).waitFor({ state: 'detached' });
    await pending
      .getByRole('cell', { name: byAdmin, exact: true })
      .waitFor({ state: 'detached', timeout: 10_000 });
    // And a line says which went, so none vanishes unexplained.
    await page
      .getByRole('status')
      .filter({
        hasText: `The pending invitations ada (or their keys) sent were revoked with them: ${byAdmin} (member)`,
      })
      .waitFor({ timeout: 10_000 });
    // So does demoting one to a role that invites nobody.
    await members.getByLabel('Role of mo').selectOption('member');
    await members.getByRole('button', { name: 'Make mo member' }).click();
    await pending
      .getByRole('cell', { name: byMember, exact: true })
      .waitFor({ state: 'detached', timeout: 10_000 });
    await page
      .getByRole('status')
      .filter({ hasText: `The pending invitations mo can no longer make were revoked: ${byMember} (viewer)` })
      .waitFor({ timeout: 10_000 });
    expect(await seriousViolations(page)).toEqual([]);
    const left = await t.client.call('GET', '/v1/org/invitations', { token: owner.accessToken });
    expect(left.json.items.map((i: { email: string }) => i.email)).not.toContain(byMember);
  }, 180_000);

  it('names on the keys page the invitations a revoked key sent, and nothing for a key that sent none', async () => {
    const bot = await t.client.createKey(owner, { name: 'inviter-bot' });
    await t.client.createKey(owner, { name: 'quiet-bot' });
    const byBot = `by-bot-${Date.now()}@example.com`;
    const invited = await t.client.call('POST', '/v1/org/invitations', {
      token: bot.secret,
      body: { email: byBot, role: 'member' },
    });
    expect(invited.status).toBe(201);
    const page = await newPage();
    await page.goto(`${origin}/login`);
    await logIn(page, owner.email);
    await page.getByRole('link', { name: 'API keys' }).click();
    const keys = page.getByRole('region', { name: 'API keys table' });
    await keys.getByRole('button', { name: 'Revoke inviter-bot' }).click();
    await keys.getByRole('button', { name: 'Yes, revoke inviter-bot' }).click();
    // The invitation went with the key: the page says which, as `meridian keys revoke` does.
    const line = page.getByRole('status').filter({
      hasText: `The pending invitations the key inviter-bot (${bot.secret.slice(0, 12)}…, created `,
    });
    await line.waitFor({ timeout: 10_000 });
    expect(await line.textContent()).toMatch(
      new RegExp(
        `^The pending invitations the key inviter-bot \\(${bot.secret.slice(0, 12)}…, created [^)]+\\) sent were revoked with it: ${byBot} \\(member\\)$`,
      ),
    );
    expect(await seriousViolations(page)).toEqual([]);
    const left = await t.client.call('GET', '/v1/org/invitations', { token: owner.accessToken });
    expect(left.json.items.map((i: { email: string }) => i.email)).not.toContain(byBot);
    // A key that sent nothing takes nothing, and the line about the other key goes.
    await keys.getByRole('button', { name: 'Revoke quiet-bot' }).click();
    await keys.getByRole('button', { name: 'Yes, revoke quiet-bot' }).click();
    await line.waitFor({ state: 'detached', timeout: 10_000 });
    expect(await page.getByRole('status').filter({ hasText: 'pending invitations' }).count()).toBe(0);
  }, 120_000);

  it('tells two keys of the same name apart by their start and creation time, and revokes the one chosen', async () => {
    const older = await t.client.createKey(owner, { name: 'ci' });
    const newer = await t.client.createKey(owner, { name: 'ci' });
    const start = (k: { secret: string }) => k.secret.slice(0, 12);
    const page = await newPage();
    await page.goto(`${origin}/login`);
    await logIn(page, owner.email);
    await page.getByRole('link', { name: 'API keys' }).click();
    const keys = page.getByRole('region', { name: 'API keys table' });
    await keys.getByRole('row', { name: new RegExp(start(older)) }).waitFor();
    const revokes = keys.getByRole('button', { name: /^Revoke ci \(/ });
    const names = await revokes.evaluateAll((buttons) => buttons.map((b) => b.getAttribute('aria-label')));
    expect(names).toHaveLength(2);
    expect(new Set(names).size).toBe(2);
    // Each row's button names the start of its own key, which the row shows, and when it was made.
    const newerRow = keys.getByRole('row', { name: new RegExp(start(newer)) });
    const button = newerRow.getByRole('button', { name: `Revoke ci (${start(newer)}…, created ` });
    await button.click();
    const confirm = newerRow.getByRole('button', { name: `Yes, revoke ci (${start(newer)}…, created ` });
    expect(await confirm.textContent()).toMatch(
      new RegExp(`^Yes, revoke ci \\(${start(newer)}…, created .+\\)$`),
    );
    await confirm.click();
    await newerRow.getByText('revoked').waitFor();
    const listed = await t.client.call('GET', '/v1/api-keys', { token: owner.accessToken });
    const status = (id: string) => listed.json.items.find((k: { id: string }) => k.id === id)?.status;
    expect([status(older.id), status(newer.id)]).toEqual(['active', 'revoked']);
    expect(await seriousViolations(page)).toEqual([]);
  }, 120_000);

  it('tells two members of the same name apart by their address, and removes the one chosen', async () => {
    const first = await t.client.joinOrg(owner, await t.client.register('twin'), 'member');
    const second = await t.client.joinOrg(owner, await t.client.register('twin'), 'member');
    const page = await newPage();
    await page.goto(`${origin}/login`);
    await logIn(page, owner.email);
    await page.getByRole('link', { name: 'Members' }).click();
    const members = page.getByRole('region', { name: 'Members table' });
    await members.getByRole('button', { name: `Remove twin (${second.email})`, exact: true }).click();
    await members.getByRole('button', { name: `Yes, remove twin (${second.email})`, exact: true }).click();
    await members.getByRole('cell', { name: second.email, exact: true }).waitFor({ state: 'detached' });
    await members.getByRole('cell', { name: first.email, exact: true }).waitFor();
    await members.getByRole('button', { name: `Remove twin (${first.email})`, exact: true }).waitFor();
  }, 120_000);

  it('sends one revoke of a key and one removal of a member, the buttons disabled while each is on its way', async () => {
    await t.client.createKey(owner, { name: 'once-bot' });
    await t.client.joinOrg(owner, await t.client.register('lee'), 'member');
    const page = await newPage();
    // Each DELETE is held a moment, as on a slow network: a second press would land while the first is out.
    const deletes: string[] = [];
    await page.route(/\/v1\/(api-keys|org\/members)\//, async (route) => {
      if (route.request().method() !== 'DELETE') return route.fallback();
      deletes.push(new URL(route.request().url()).pathname);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await route.continue();
    });
    await page.goto(`${origin}/login`);
    await logIn(page, owner.email);

    await page.getByRole('link', { name: 'API keys' }).click();
    const keys = page.getByRole('region', { name: 'API keys table' });
    await keys.getByRole('button', { name: 'Revoke once-bot' }).click();
    await keys.getByRole('button', { name: 'Yes, revoke once-bot' }).click();
    expect(await keys.getByRole('button', { name: 'Revoke once-bot' }).isDisabled()).toBe(true);
    await keys
      .getByRole('row', { name: /once-bot/ })
      .getByText('revoked')
      .waitFor();

    await page.getByRole('link', { name: 'Members' }).click();
    const members = page.getByRole('region', { name: 'Members table' });
    await members.getByRole('button', { name: 'Remove lee' }).click();
    await members.getByRole('button', { name: 'Yes, remove lee' }).click();
    expect(await members.getByRole('button', { name: 'Remove lee' }).isDisabled()).toBe(true);
    await members.getByRole('cell', { name: 'lee', exact: true }).waitFor({ state: 'detached' });
    expect(deletes).toHaveLength(2);
  }, 120_000);

  it("changes a member's role with its button only: arrow keys through the roles grant nothing on the way", async () => {
    const kim = await t.client.joinOrg(owner, await t.client.register('kim'), 'viewer');
    const roleOfKim = async () => {
      const res = await t.client.call('GET', '/v1/org/members', { token: owner.accessToken });
      return res.json.items.find((m: { userId: string }) => m.userId === kim.userId)?.role;
    };
    const page = await newPage();
    const patches: string[] = [];
    page.on('request', (r) => {
      if (r.method() === 'PATCH') patches.push(r.postData() ?? '');
    });
    await page.goto(`${origin}/login`);
    await logIn(page, owner.email);
    await page.getByRole('link', { name: 'Members' }).click();
    const members = page.getByRole('region', { name: 'Members table' });
    // A keyboard user moves from viewer up to admin, passing member.
    await members.getByLabel('Role of kim').focus();
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('ArrowUp');
    expect(await members.getByLabel('Role of kim').inputValue()).toBe('admin');
    await page.waitForTimeout(1_000);
    expect(patches).toEqual([]);
    expect(await roleOfKim()).toBe('viewer');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await expect.poll(roleOfKim, { timeout: 10_000 }).toBe('admin');
    // The browser's report of its request can reach this process after the server (in this process) answered.
    await expect.poll(() => patches).toEqual([JSON.stringify({ role: 'admin' })]);
    await members.getByRole('button', { name: /^Make kim/ }).waitFor({ state: 'detached' });
  }, 120_000);

  it('asks before revoking with the focus on its harmless answer, and backing out gives the focus back', async () => {
    await t.client.createKey(owner, { name: 'kept-bot' });
    const page = await newPage();
    await page.goto(`${origin}/login`);
    await logIn(page, owner.email);
    await page.getByRole('link', { name: 'API keys' }).click();
    const keys = page.getByRole('region', { name: 'API keys table' });
    const focused = () => page.evaluate(() => document.activeElement?.textContent ?? '');
    await keys.getByRole('button', { name: 'Revoke kept-bot' }).focus();
    await page.keyboard.press('Enter');
    await keys.getByRole('button', { name: 'Yes, revoke kept-bot' }).waitFor();
    await expect.poll(focused).toBe('Cancel');
    await page.keyboard.press('Enter');
    await keys.getByRole('button', { name: 'Revoke kept-bot' }).waitFor();
    await expect.poll(focused).toBe('Revoke kept-bot');
    const listed = await t.client.call('GET', '/v1/api-keys', { token: owner.accessToken });
    const key = listed.json.items.find((k: { name: string }) => k.name === 'kept-bot');
    expect(key?.status).toBe('active');
  }, 120_000);

  it('empties the new key form once a key is made, so a second press makes no second key of that name', async () => {
    const page = await newPage();
    await page.goto(`${origin}/login`);
    await logIn(page, owner.email);
    await page.getByRole('link', { name: 'API keys' }).click();
    const form = page.getByRole('form', { name: 'New API key' });
    await form.getByLabel('Name', { exact: true }).fill('deploy-bot');
    await form.getByRole('button', { name: 'Create key' }).click();
    await form.getByRole('status').filter({ hasText: 'Shown this once' }).waitFor();
    expect(await form.getByLabel('Name', { exact: true }).inputValue()).toBe('');
    await form.getByRole('button', { name: 'Create key' }).click();
    await page.waitForTimeout(1_000);
    const listed = await t.client.call('GET', '/v1/api-keys?limit=100', { token: owner.accessToken });
    expect(listed.json.items.filter((k: { name: string }) => k.name === 'deploy-bot')).toHaveLength(1);
  }, 120_000);

  it("shows a pending invitation's expiry as the dashboard shows every time, to the minute", async () => {
    const email = `zed-${Date.now()}@example.com`;
    await t.client.invite(owner, email, 'viewer');
    const listed = await t.client.call('GET', '/v1/org/invitations', { token: owner.accessToken });
    const { expiresAt } = listed.json.items.find((i: { email: string }) => i.email === email);
    const page = await newPage();
    await page.goto(`${origin}/login`);
    await logIn(page, owner.email);
    await page.getByRole('link', { name: 'Members' }).click();
    const row = page
      .getByRole('region', { name: 'Pending invitations table' })
      .getByRole('row')
      .filter({ hasText: email });
    await row.waitFor();
    expect(await row.locator('time').count()).toBe(1);
    expect(await row.locator('time').getAttribute('datetime')).toBe(expiresAt);
    // As dashboard/src/lib/format.ts writes times (the keys' expiry, the audit log): no seconds, a zone.
    expect(await row.locator('time').textContent()).toMatch(
      /^\w{3} \d{1,2}, \d{4}, \d{1,2}:\d{2}\s[AP]M \w+/,
    );
  }, 120_000);

  it('switches organisation with its button only: arrow keys through the organisations switch nothing', async () => {
    const ola = await t.client.register('ola');
    await t.client.joinOrg(owner, ola, 'viewer');
    const page = await newPage();
    const switches: string[] = [];
    page.on('request', (r) => {
      if (r.url().endsWith('/v1/auth/switch-org')) switches.push(r.postData() ?? '');
    });
    await page.goto(`${origin}/login`);
    await logIn(page, ola.email);
    const select = page.getByLabel('Organisation');
    const before = await select.inputValue();
    // A keyboard user moves to the other organisation, back, and to it again, choosing neither.
    const values = await select
      .locator('option')
      .evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
    const toward = values.indexOf(before) === 0 ? 'ArrowDown' : 'ArrowUp';
    await select.focus();
    await page.keyboard.press(toward);
    await page.keyboard.press(toward === 'ArrowDown' ? 'ArrowUp' : 'ArrowDown');
    await page.keyboard.press(toward);
    expect(await select.inputValue()).not.toBe(before);
    await page.waitForTimeout(1_000);
    expect(switches).toEqual([]);
    await select.selectOption(before);
    expect(await page.getByRole('button', { name: /^Switch to/ }).count()).toBe(0);
    // Choosing the other one and pressing its button switches, once.
    const other = before === owner.orgId ? ola.orgId : owner.orgId;
    await select.selectOption(other);
    await page.getByRole('button', { name: /^Switch to/ }).click();
    await expect.poll(() => select.inputValue(), { timeout: 10_000 }).toBe(other);
    await page.getByRole('button', { name: /^Switch to/ }).waitFor({ state: 'detached' });
    expect(switches).toEqual([JSON.stringify({ orgId: other })]);
  }, 120_000);

  it('says a link for another address names no invitation', async () => {
    const eve = await t.client.register('eve');
    const { token } = await t.client.invite(owner, `someone-else-${Date.now()}@example.com`, 'admin');
    const page = await newPage();
    await page.goto(`${origin}/invitations?token=${token}`);
    await logIn(page, eve.email);
    await page.getByText('This link names no invitation').waitFor();
    expect(await page.getByText('Acme Vision').count()).toBe(0);
    expect(await page.getByRole('button', { name: /Accept/ }).count()).toBe(0);
  }, 120_000);
});
