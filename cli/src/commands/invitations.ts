import type { Schema } from '@meridian/sdk';
import type { Command } from 'commander';
import { action, CliError, table } from '../context.js';

type Invitation = Schema<'Invitation'>;

/** The rows of `invitations list`: which organisation, as what, from whom, until when. */
export function invitationRows(items: Invitation[]): string {
  return table(
    ['ID', 'ORGANISATION', 'ROLE', 'INVITED BY', 'EXPIRES'],
    items.map((i) => [i.id, i.org.name, i.role, i.invitedBy, i.expiresAt]),
  );
}

/** An invitation id as the API takes it, or a usage error that says where ids come from. */
export function parseInvitationId(value: string): string {
  if (!/^inv_[0-9a-z]{26}$/.test(value))
    throw new CliError(
      `${value} is no invitation id: ids start with inv_ (meridian invitations lists yours)`,
      2,
    );
  return value;
}

export function invitationCommands(program: Command): void {
  const invitations = program
    .command('invitations')
    .description('Invitations to organisations sent to your e-mail: list, accept or decline them');
  invitations
    .command('list', { isDefault: true })
    .description('Your pending invitations (the default)')
    .action(
      action(async (ctx) => {
        const { items } = await (await ctx.client()).request('get', '/v1/invitations');
        ctx.print(items, () => (items.length === 0 ? 'No pending invitations' : invitationRows(items)));
      }),
    );
  invitations
    .command('accept [id]')
    .description(
      'Accept an invitation, by its id or by the token its e-mail carried: you join its organisation',
    )
    .option('--token <token>', 'the token from the invitation e-mail or link, instead of an id')
    .action(
      action(async (ctx, id: string | undefined, opts: { token?: string }) => {
        if ((id === undefined) === (opts.token === undefined))
          throw new CliError('Name the invitation by its id or by --token, one of them', 2);
        const client = await ctx.client();
        const joined =
          id === undefined
            ? await client.request('post', '/v1/invitations/accept', { body: { token: opts.token ?? '' } })
            : await client.request('post', '/v1/invitations/{invitationId}/accept', {
                path: { invitationId: parseInvitationId(id) },
              });
        ctx.print(
          joined,
          () =>
            `Joined ${joined.org.name} as ${joined.role}; work in it with: meridian orgs switch "${joined.org.name}"`,
        );
      }),
    );
  invitations
    .command('decline <id>')
    .description('Decline an invitation: you do not join, and the organisation sees that you declined')
    .action(
      action(async (ctx, id: string) => {
        const invitationId = parseInvitationId(id);
        await (await ctx.client()).request('post', '/v1/invitations/{invitationId}/decline', {
          path: { invitationId },
        });
        ctx.print({ declined: invitationId }, () => `Declined invitation ${invitationId}`);
      }),
    );
}
