import { describe, expect, it } from 'vitest';
import { CliError } from '../context.js';
import { parseInvitationId } from './invitations.js';
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

describe('invitations in the CLI', () => {
  it('takes an invitation id as the API mints it, and refuses anything else as usage', () => {
    expect(parseInvitationId(invitation.id)).toBe(invitation.id);
    for (const bad of ['', 'inv_1', 'grace@example.com', `usr_${'a'.repeat(26)}`]) {
      const refused = (() => {
        try {
          parseInvitationId(bad);
        } catch (err) {
          return err;
        }
      })();
      expect(refused).toBeInstanceOf(CliError);
      expect((refused as CliError).exitCode).toBe(2);
    }
  });

  it('says an invitation was mailed, or shows the link and token once when no mail went out', () => {
    expect(invitedText({ invitation, mailSent: true })).toBe(
      'Invited grace@example.com to Acme as admin; the invitation expires at 2026-12-14T00:00:00.000Z\n' +
        'It was mailed to them: they accept it there, or with meridian invitations',
    );
    expect(
      invitedText({
        invitation,
        mailSent: false,
        mailError: 'smtp: connection refused',
        token: 'tok',
        acceptUrl: 'http://cp/invitations?token=tok',
      }),
    ).toBe(
      'Invited grace@example.com to Acme as admin; the invitation expires at 2026-12-14T00:00:00.000Z\n' +
        'No mail was sent (smtp: connection refused). Pass them this link; it is shown only now:\n' +
        '  http://cp/invitations?token=tok\n' +
        'or, signed in as grace@example.com: meridian invitations accept --token tok',
    );
  });
});
