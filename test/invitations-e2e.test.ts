import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ServerType, serve } from '@hono/node-server';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCaptured } from '../cli/src/main-captured.test-helper.js';
import { SmtpMailer } from '../control-plane/src/services/notifications/email.js';
import { createTestApp, type Session } from '../control-plane/testing/test-app.js';
import { freePort } from './helpers/ports.js';
import { waitUntil } from './helpers/wait.js';

interface Mail {
  to: string[];
  raw: string;
}

/** The text of a mail as a reader sees it: quoted-printable soft breaks joined, `=XX` decoded. */
function readable(raw: string): string {
  const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
  return body
    .replace(/=\r\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

/** What the refusing SMTP server names in its error: the platform's own mail host, for the operator alone. */
const INTERNAL_RELAY = 'relay-7.mail.internal (policy outbound-restricted)';

/**
 * Invitations through the real path: the control plane on a real libsql file, its SMTP mailer sending to a
 * real SMTP server (smtp-server) on loopback, and the CLI run against it over HTTP.
 */
describe('organisation invitations by mail and the CLI', () => {
  let t: Awaited<ReturnType<typeof createTestApp>>;
  let smtp: SMTPServer;
  let server: ServerType;
  let mailer: SmtpMailer;
  let url = '';
  let configDir = '';
  const mails: Mail[] = [];
  let owner: Session;
  let smtpOpen = true;

  beforeAll(async () => {
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      // A mail server refuses a recipient in words that name its own hosts and policy, as real relays do.
      onRcptTo(address, _session, callback) {
        if (!address.address.endsWith('@refused.example')) return callback();
        callback(
          Object.assign(new Error(`5.7.1 <${address.address}>: Relay access denied by ${INTERNAL_RELAY}`), {
            responseCode: 554,
          }),
        );
      },
      onData(stream, session, done) {
        let raw = '';
        stream.on('data', (c: Buffer) => {
          raw += c.toString();
        });
        stream.on('end', () => {
          mails.push({ to: session.envelope.rcptTo.map((r) => r.address), raw });
          done();
        });
      },
    });
    const smtpPort = await freePort();
    await new Promise<void>((r) => smtp.listen(smtpPort, '127.0.0.1', r));
    mailer = new SmtpMailer({
      host: '127.0.0.1',
      port: smtpPort,
      secure: false,
      from: 'Meridian <invitations@meridian.localhost>',
      timeoutMs: 5000,
    });
    t = await createTestApp({ mailer });
    const port = await freePort();
    server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: t.app.fetch, hostname: '127.0.0.1', port }, () => resolve(s));
    });
    url = `http://127.0.0.1:${port}`;
    configDir = await mkdtemp(join(tmpdir(), 'invitations-cli-'));
    owner = await t.client.register('owner');
    await t.client.call('PATCH', '/v1/org', { token: owner.accessToken, body: { name: 'Acme Vision' } });
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    if (smtpOpen) await new Promise<void>((r) => smtp.close(() => r()));
    mailer.close();
    t.cleanup();
    await rm(configDir, { recursive: true, force: true });
  });

  const cliAs = (session: Session | string) => (args: string[]) =>
    runCaptured(args, {
      MERIDIAN_CONFIG_DIR: configDir,
      MERIDIAN_API_URL: url,
      MERIDIAN_TOKEN: typeof session === 'string' ? session : session.accessToken,
    });
  const mailTo = async (address: string) => {
    await waitUntil(
      async () => mails.filter((m) => m.to.includes(address)).length,
      (n) => n >= 1,
      { timeoutMs: 10_000, what: `the invitation mail to ${address}` },
    );
    const mail = mails.filter((m) => m.to.includes(address)).at(-1);
    return readable(mail?.raw ?? '');
  };
  const linkIn = (text: string) => {
    const link = text.match(/http:\/\/127\.0\.0\.1:8080\/invitations\?token=([A-Za-z0-9_-]+)/);
    if (!link?.[1]) throw new Error(`no invitation link in:\n${text}`);
    return { url: link[0], token: link[1] };
  };
  const tokenIn = (text: string) => linkIn(text).token;
  const register = async (email: string, name: string) => {
    const res = await t.client.call('POST', '/v1/auth/register', {
      body: { email, password: 'correct horse battery', name },
    });
    if (res.status !== 201) throw new Error(`register failed: ${res.text}`);
    return res.json.accessToken as string;
  };
  const memberEmails = async () =>
    (await t.client.call('GET', '/v1/org/members', { token: owner.accessToken })).json.items.map(
      (m: { email: string }) => m.email,
    );

  it('mails an invitation to an address with no account; once registered, that account alone can accept it', async () => {
    const invited = await cliAs(owner)(['members', 'invite', 'New.Person@Example.com', '--role', 'member']);
    expect(invited.stderr).toBe('');
    expect(invited.stdout).toMatch(
      /^Invited new\.person@example\.com to Acme Vision as member; the invitation expires at 20\S+Z\nIt was mailed to them/,
    );
    const text = await mailTo('new.person@example.com');
    expect(text).toContain(
      `${owner.email} invited you to join the organisation "Acme Vision" on Meridian as member.`,
    );
    expect(text).toContain('Sign in (or register) as new.person@example.com first');
    const { url: link, token } = linkIn(text);
    // The link's page is the dashboard's (served for any path outside the API).
    const page = await fetch(`${url}/invitations?token=${token}`, { headers: { accept: 'text/html' } });
    expect([page.status, page.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8']);
    // Only its hash is kept: the pending list shows the invitation, never the token.
    const pending = await cliAs(owner)(['members', 'invitations', '--json']);
    expect(pending.stdout).toContain('new.person@example.com');
    expect(pending.stdout).not.toContain(token);
    expect(await memberEmails()).not.toContain('new.person@example.com');

    // Someone else with the link learns nothing and joins nothing.
    const mallory = await register(`mallory-${Date.now()}@example.com`, 'Mallory');
    const stolen = await cliAs(mallory)(['invitations', 'accept', '--token', token]);
    expect(stolen.code).toBe(1);
    expect(stolen.stderr).toMatch(/^meridian: Invitation not found \(404 not_found\)/);

    const person = await register('new.person@example.com', 'New Person');
    // The link as pasted from the mail names the invitation, as the bare token does.
    const shown = await cliAs(person)(['invitations', 'show', '--token', link]);
    expect(shown.stderr).toBe('');
    expect(shown.stdout).toMatch(
      new RegExp(
        `^${owner.email} invited new\\.person@example\\.com to Acme Vision as member; the invitation expires at 20\\S+Z\n$`,
      ),
    );
    const joined = await cliAs(person)(['invitations', 'accept', '--token', link]);
    expect(joined.stderr).toBe('');
    expect(joined.stdout).toBe(
      'Joined Acme Vision as member; work in it with: meridian orgs switch "Acme Vision"\n',
    );
    expect(await memberEmails()).toContain('new.person@example.com');
    const twice = await cliAs(person)(['invitations', 'accept', '--token', token]);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/^meridian: You have accepted this invitation already \(409 conflict\)/);
  });

  it('lets an invitee decline with the link, and an admin revoke: a revoked link no longer works', async () => {
    const email = `dana-${Date.now()}@example.com`;
    const dana = await register(email, 'Dana');
    await cliAs(owner)(['members', 'invite', email, '--role', 'viewer']);
    const first = tokenIn(await mailTo(email));
    const revoked = await cliAs(owner)(['members', 'revoke-invitation', email]);
    expect(revoked.stdout).toBe(`Revoked the invitation of ${email} (viewer)\n`);
    const late = await cliAs(dana)(['invitations', 'accept', '--token', first]);
    expect(late.code).toBe(1);
    expect(late.stderr).toMatch(/^meridian: This invitation was revoked by Acme Vision \(409 conflict\)/);

    mails.length = 0;
    await cliAs(owner)(['members', 'invite', email, '--role', 'admin']);
    const second = tokenIn(await mailTo(email));
    const declined = await cliAs(dana)(['invitations', 'decline', '--token', second]);
    expect(declined.stderr).toBe('');
    expect(declined.stdout).toBe('Declined the invitation to Acme Vision (admin)\n');
    expect(await memberEmails()).not.toContain(email);
    const audit = await cliAs(owner)(['audit', '--since', '1h', '--limit', '4']);
    expect(audit.stdout).toMatch(new RegExp(`^20\\S+ +${email} +invitation\\.decline +${email}$`, 'm'));
    expect(audit.stdout).toMatch(new RegExp(`^20\\S+ +${owner.email} +invitation\\.revoke +${email}$`, 'm'));
  });

  it('tells the owner which pending invitations went with a member they removed or demoted', async () => {
    /** An account of `name` that joins Acme Vision as admin through a mailed invitation; its token there. */
    const admin = async (name: string) => {
      const email = `${name.toLowerCase()}-${Date.now()}@example.com`;
      const own = await register(email, name);
      await cliAs(owner)(['members', 'invite', email, '--role', 'admin']);
      const token = tokenIn(await mailTo(email));
      expect(
        (await t.client.call('POST', '/v1/invitations/accept', { token: own, body: { token } })).status,
      ).toBe(200);
      const switched = await t.client.call('POST', '/v1/auth/switch-org', {
        token: own,
        body: { orgId: owner.orgId },
      });
      return { email, token: switched.json.accessToken as string };
    };
    const invite = async (by: string, email: string, role: string) =>
      expect(
        (await t.client.call('POST', '/v1/org/invitations', { token: by, body: { email, role } })).status,
      ).toBe(201);
    const ada = await admin('Ada');
    const bo = await admin('Bo');
    await invite(ada.token, 'friend-of-ada@example.com', 'member');
    await invite(bo.token, 'friend-of-bo@example.com', 'viewer');

    const demoted = await cliAs(owner)(['members', 'role', bo.email, 'member']);
    expect([demoted.code, demoted.stderr]).toEqual([0, '']);
    expect(demoted.stdout).toBe(
      `Bo (${bo.email}) is now member (was admin)\n` +
        'The pending invitations they can no longer make as member were revoked with it: friend-of-bo@example.com (viewer)\n',
    );
    const removed = await cliAs(owner)(['members', 'remove', ada.email]);
    expect([removed.code, removed.stderr]).toEqual([0, '']);
    expect(removed.stdout).toBe(
      `Removed Ada (${ada.email}); the API keys they made were revoked\n` +
        'The pending invitations they (or their keys) sent were revoked with it: friend-of-ada@example.com (member)\n',
    );
    // A key revoked on its own takes what it sent too, and says so.
    const key = await t.client.createKey(owner, { name: 'inviter-bot' });
    await invite(key.secret, 'friend-of-bot@example.com', 'member');
    const revokedKey = await cliAs(owner)(['keys', 'revoke', 'inviter-bot']);
    expect([revokedKey.code, revokedKey.stderr]).toEqual([0, '']);
    expect(revokedKey.stdout).toBe(
      `Revoked key inviter-bot (${key.id})\n` +
        'The pending invitations it sent were revoked with it: friend-of-bot@example.com (member)\n',
    );
    // A key revoking itself has nothing left to read the log with, and is told it is revoked all the same.
    const selfish = await t.client.createKey(owner, { name: 'self-revoker' });
    const itself = await cliAs(selfish.secret)(['keys', 'revoke', 'self-revoker']);
    expect([itself.code, itself.stderr, itself.stdout]).toEqual([
      0,
      '',
      `Revoked key self-revoker (${selfish.id})\n`,
    ]);
    // Leaving ends the leaver's login there at once: what they sent is not read back with it.
    const left = await cliAs(bo.token)(['members', 'remove', bo.email]);
    expect([left.code, left.stderr, left.stdout]).toEqual([
      0,
      '',
      `Removed Bo (${bo.email}); the API keys they made were revoked\n`,
    ]);
  });

  const plainReason =
    'No mail was sent (the mail server did not take the mail; the platform operator can see why in its log). ' +
    'Pass them this link; it is shown only now:';

  it('tells the inviter a plain reason and the link when the server refuses the mail; its words go to the log', async () => {
    const before = t.logLines.length;
    const invited = await cliAs(owner)(['members', 'invite', 'someone@refused.example', '--role', 'viewer']);
    expect([invited.code, invited.stderr]).toEqual([0, '']);
    expect(invited.stdout).toContain(plainReason);
    const token = tokenIn(invited.stdout);
    expect(invited.stdout).toContain(`meridian invitations accept --token ${token}`);
    expect(invited.stdout).not.toContain('relay-7');
    // Nor does the API answer carry it, whatever client reads it.
    const byApi = await t.client.call('POST', '/v1/org/invitations', {
      token: owner.accessToken,
      body: { email: 'another@refused.example', role: 'viewer' },
    });
    expect(byApi.status).toBe(201);
    expect(byApi.json).toMatchObject({ mailSent: false, acceptUrl: expect.stringContaining('token=') });
    expect(byApi.text).not.toContain('relay-7');
    expect(byApi.json.mailError).toBe(
      'the mail server did not take the mail; the platform operator can see why in its log',
    );
    // The operator reads what the server said, once per invitation, with neither its token nor its link.
    const lines = t.logLines.slice(before).filter((l) => l.includes('invitation mail not sent'));
    expect(lines).toHaveLength(2);
    const first = JSON.parse(lines[0] ?? '{}');
    expect(first).toMatchObject({
      level: 'warn',
      orgId: owner.orgId,
      invitationId: expect.stringMatching(/^inv_/),
    });
    expect(first.error).toContain(INTERNAL_RELAY);
    expect(first.error).toContain('554');
    expect(lines[0]).not.toContain(token);
    expect(lines[1]).not.toContain(byApi.json.token);
    expect(lines.join('\n')).not.toContain('/invitations?token=');
  });

  it('shows the link once when the mail server cannot be reached', async () => {
    await new Promise<void>((r) => smtp.close(() => r()));
    smtpOpen = false;
    const invited = await cliAs(owner)(['members', 'invite', 'offline@example.com', '--role', 'viewer']);
    expect(invited.code).toBe(0);
    expect(invited.stdout).toContain(plainReason);
    expect(invited.stdout).toMatch(
      /shown only now:\n {2}http:\/\/127\.0\.0\.1:8080\/invitations\?token=\S+\nor, signed in as offline@example\.com: meridian invitations accept --token \S+\n$/,
    );
    expect(invited.stdout).not.toMatch(/ECONNREFUSED|smtp:/);
  });
});
