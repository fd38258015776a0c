import type { Command } from 'commander';
import { action, CliError } from '../context.js';

const TOKEN = /^[A-Za-z0-9_-]{1,200}$/;

/**
 * The token of an invitation, from the bare token or the whole link the mail carried (people paste the link).
 * Anything else is a usage error that says where the token comes from.
 */
export function parseInvitationToken(value: string): string {
  const trimmed = value.trim();
  let token: string | null = trimmed;
  if (/^https?:\/\//i.test(trimmed)) {
    try {
      token = new URL(trimmed).searchParams.get('token');
    } catch {
      token = null;
    }
  }
  if (token === null || !TOKEN.test(token))
    throw new CliError(
      'Pass the invitation link from the e-mail (or the one an admin shared), or the token in it, as --token',
      2,
    );
  return token;
}

const tokenOption = [
  '--token <link-or-token>',
  'the invitation link from the e-mail (or the one an admin shared), or the token in it',
] as const;

export function invitationCommands(program: Command): void {
  const invitations = program
    .command('invitations')
    .description(
      'Answer an invitation to an organisation with the link it came with (e-mail addresses are not verified, so the link is required)',
    );
  invitations
    .command('show')
    .description('What the invitation offers: organisation, role, who invited you, until when')
    .requiredOption(...tokenOption)
    .action(
      action(async (ctx, opts: { token: string }) => {
        const token = parseInvitationToken(opts.token);
        const i = await (await ctx.client()).request('post', '/v1/invitations/preview', { body: { token } });
        ctx.print(
          i,
          () =>
            `${i.invitedBy} invited ${i.email} to ${i.org.name} as ${i.role}; the invitation expires at ${i.expiresAt}`,
        );
      }),
    );
  invitations
    .command('accept')
    .description('Accept an invitation: you join its organisation with its role')
    .requiredOption(...tokenOption)
    .action(
      action(async (ctx, opts: { token: string }) => {
        const token = parseInvitationToken(opts.token);
        const joined = await (await ctx.client()).request('post', '/v1/invitations/accept', {
          body: { token },
        });
        ctx.print(
          joined,
          () =>
            `Joined ${joined.org.name} as ${joined.role}; work in it with: meridian orgs switch "${joined.org.name}"`,
        );
      }),
    );
  invitations
    .command('decline')
    .description('Decline an invitation: you do not join, and the organisation sees that you declined')
    .requiredOption(...tokenOption)
    .action(
      action(async (ctx, opts: { token: string }) => {
        const token = parseInvitationToken(opts.token);
        const client = await ctx.client();
        // Read first so the answer can name the organisation declined, as a person reads it.
        const i = await client.request('post', '/v1/invitations/preview', { body: { token } });
        await client.request('post', '/v1/invitations/decline', { body: { token } });
        ctx.print(
          { declined: i.id, org: i.org },
          () => `Declined the invitation to ${i.org.name} (${i.role})`,
        );
      }),
    );
}
