import { describe, expect, it } from 'vitest';
import { CliError } from '../context.js';
import { parseInvitationToken } from './invitations.js';
import { invitedText } from './members.js';

const invitation = {
  id: `inv_${'a'.repeat(26)}`,
  email: 'grace@example.com',
  role: 'admin' as const,
  org: { id: 'org_1', name: 'Acme' },
  invitedBy: 'ada@example.com',
  createdAt: '2026-12-07T00:00:00.000Z',
  expiresAt: '2026-12-14T00:00:00.000Z',
};

const refusal = (value: string) => {
  try {
    parseInvitationToken(value);
  } catch (err) {
    return err;
  }
  return undefined;
};

describe('invitations in the CLI', () => {
  it('takes the token bare or inside the link the mail carried, as people paste it', () => {
    const token = 'Zq3_x-9AbC';
    expect(parseInvitationToken(token)).toBe(token);
    expect(parseInvitationToken(`https://cp.example.com/invitations?token=${token}`)).toBe(token);
    expect(parseInvitationToken(` http://127.0.0.1:8080/invitations?token=${token}&utm=mail \n`)).toBe(token);
  });

  it('refuses as usage (exit 2) an invitation id, an e-mail, or a link without a token', () => {
    for (const bad of [
      '',
      'grace@example.com',
      'https://cp.example.com/invitations',
      'https://cp.example.com/invitations?token=',
      'not a token',
      'x'.repeat(201),
    ]) {
      const refused = refusal(bad);
      expect(refused, bad).toBeInstanceOf(CliError);
      expect((refused as CliError).exitCode).toBe(2);
      expect((refused as CliError).message).toMatch(/invitation link from the e-mail/);
    }
  });

  it('says an invitation was mailed, or shows the link and token once when no mail went out', () => {
    expect(invitedText({ invitation, mailSent: true })).toBe(
      'Invited grace@example.com to Acme as admin; the invitation expires at 2026-12-14T00:00:00.000Z\n' +
        'It was mailed to them: they accept it with its link, or with meridian invitations accept --token LINK',
    );
    expect(
      invitedText({
        invitation,
        mailSent: false,
        mailError: 'the mail server did not take the mail; the platform operator can see why in its log',
        token: 'tok',
        acceptUrl: 'http://cp/invitations?token=tok',
      }),
    ).toBe(
      'Invited grace@example.com to Acme as admin; the invitation expires at 2026-12-14T00:00:00.000Z\n' +
        'No mail was sent (the mail server did not take the mail; the platform operator can see why in its log). ' +
        'Pass them this link; it is shown only now:\n' +
        '  http://cp/invitations?token=tok\n' +
        'or, signed in as grace@example.com: meridian invitations accept --token tok',
    );
  });
});
