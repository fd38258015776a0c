import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp } from '../../../testing/test-app.js';
import { SmtpMailer } from './email.js';

/** What the refusing SMTP server names in its error: the platform's own mail host, for the operator alone. */
const INTERNAL_RELAY = 'relay-7.mail.internal (policy outbound-restricted)';

/**
 * E-mail channels through a real SMTP server (smtp-server on loopback) that refuses a recipient as real relays
 * do, in words naming their own hosts: the tenant who tests or reads the channel learns the mail was not
 * taken, the operator's log what the server said.
 */
describe('e-mail channel failures', () => {
  let t: Awaited<ReturnType<typeof createTestApp>>;
  let smtp: SMTPServer;
  let mailer: SmtpMailer;

  beforeAll(async () => {
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      onRcptTo(address, _session, callback) {
        callback(
          Object.assign(new Error(`5.7.1 <${address.address}>: Relay access denied by ${INTERNAL_RELAY}`), {
            responseCode: 554,
          }),
        );
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    const { port } = smtp.server.address() as AddressInfo;
    mailer = new SmtpMailer({
      host: '127.0.0.1',
      port,
      secure: false,
      from: 'meridian@example.com',
      timeoutMs: 5_000,
    });
    t = await createTestApp({ mailer });
  });
  afterAll(async () => {
    mailer.close();
    await new Promise<void>((resolve) => smtp.close(() => resolve()));
    t.cleanup();
  });

  it("tells a member the mail was not taken, never the mail server's words, which go to the operator's log", async () => {
    const owner = await t.client.register('owner');
    const member = await t.client.joinOrg(owner, await t.client.register('member'), 'member');
    const created = await t.client.call('POST', '/v1/notification-channels', {
      token: member.accessToken,
      body: { name: 'pager', kind: 'email', target: 'oncall@refused.example' },
    });
    expect(created.status, created.text).toBe(201);
    const before = t.logLines.length;

    const tested = await t.client.call('POST', `/v1/notification-channels/${created.json.id}/test`, {
      token: member.accessToken,
    });
    expect(tested.status, tested.text).toBe(200);
    expect(tested.json).toMatchObject({ ok: false, httpStatus: null });
    expect(tested.json.error).toBe(
      'the mail server did not take the mail; the platform operator can see why in its log',
    );
    const log = await t.client.call('GET', `/v1/notification-channels/${created.json.id}/deliveries`, {
      token: member.accessToken,
    });
    expect(log.status).toBe(200);
    expect(log.text).toContain('did not take the mail');
    expect(log.text).not.toContain('relay-7');
    expect(log.text).not.toContain('554');

    const lines = t.logLines.slice(before).filter((l) => l.includes('notification mail not sent'));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({
      level: 'warn',
      orgId: owner.orgId,
      channelId: created.json.id,
      deliveryId: tested.json.deliveryId,
      error: expect.stringContaining(INTERNAL_RELAY),
    });
  });
});
