import { collect, ForbiddenError, type MeridianClient, type Schema } from '@meridian/sdk';
import { type Command, Option } from 'commander';
import { action, CliError, table } from '../context.js';

export type Member = Schema<'Member'>;
type Role = Member['role'];

// Listed here so that `--help` can name them and a typo is refused before any call. Typed against the API's
// own enum both ways: if the server gains or drops a role, this file stops compiling.
export const ROLES = ['owner', 'admin', 'member', 'viewer'] as const satisfies readonly Role[];
const everyRoleListed: [Exclude<Role, (typeof ROLES)[number]>] extends [never] ? true : never = true;
void everyRoleListed;

/** A role the API knows, or a usage error that lists them. */
export function parseRole(value: string): Role {
  const role = ROLES.find((r) => r === value);
  if (!role) throw new CliError(`Unknown role ${value}: a role is one of ${ROLES.join(', ')}`, 2);
  return role;
}

/** `Ada (ada@example.com)`: who a member is, as a person reads it. */
export function memberLabel(member: Pick<Member, 'name' | 'email'>): string {
  return `${member.name} (${member.email})`;
}

/** What `members invite` says: mailed, or (no mail went out) the link to pass on, shown this once. */
export function invitedText(created: Schema<'CreatedInvitation'>): string {
  const { invitation } = created;
  const head = `Invited ${invitation.email} to ${invitation.org.name} as ${invitation.role}; the invitation expires at ${invitation.expiresAt}`;
  if (created.mailSent)
    return `${head}\nIt was mailed to them: they accept it with its link, or with meridian invitations accept --token LINK`;
  return [
    head,
    `No mail was sent (${created.mailError ?? 'unknown reason'}). Pass them this link; it is shown only now:`,
    `  ${created.acceptUrl ?? ''}`,
    `or, signed in as ${invitation.email}: meridian invitations accept --token ${created.token ?? ''}`,
  ].join('\n');
}

/** Every member of the organisation, page after page (the API answers 50 at a time). */
export async function listMembers(client: MeridianClient): Promise<Member[]> {
  return collect(client.list('/v1/org/members'));
}

/** The member with this e-mail; the server keeps e-mails in lower case, so case does not matter. */
export function memberByEmail(members: readonly Member[], email: string): Member | undefined {
  const wanted = email.toLowerCase();
  return members.find((m) => m.email.toLowerCase() === wanted);
}

export async function requireMember(client: MeridianClient, email: string): Promise<Member> {
  const found = memberByEmail(await listMembers(client), email);
  if (!found) throw new CliError(`No member with e-mail ${email} (meridian members list)`);
  return found;
}

/**
 * The invitations a change revoked with it (a removal or demotion of a member: they, or keys that went or were
 * capped with them, could no longer make them; or a key revoked), as the audit log records them since `since`;
 * none for a caller who cannot read the log.
 */
export async function invitationsRevokedWith(
  client: MeridianClient,
  changed: { member: string } | { key: string },
  reason: 'member.remove' | 'member.role_change' | 'api_key.revoke',
  since: Date,
): Promise<string[]> {
  try {
    const entries = await collect(
      client.list('/v1/audit-log', {
        query: { action: 'invitation.revoke', since: since.toISOString(), limit: 200 },
      }),
    );
    const [field, id] = 'member' in changed ? ['member', changed.member] : ['key', changed.key];
    return entries
      .filter((e) => e.metadata[field] === id && e.metadata.reason === reason)
      .map((e) => `${String(e.metadata.email)} (${String(e.metadata.role)})`);
  } catch (error) {
    if (error instanceof ForbiddenError) return [];
    throw error;
  }
}

/** The line that tells an owner which pending invitations went with a change, so none vanishes unexplained. */
export function revokedInvitationsText(revoked: readonly string[], which: string): string {
  if (revoked.length === 0) return '';
  return `\n${which} were revoked with it: ${revoked.join(', ')}`;
}

export function memberCommands(program: Command): void {
  const members = program
    .command('members')
    .description('Members of the organisation and their roles (owners and admins manage them)');
  members
    .command('list')
    .description('Members with their role and when they joined')
    .action(
      action(async (ctx) => {
        const items = await listMembers(await ctx.client());
        ctx.print(items, () =>
          table(
            ['NAME', 'EMAIL', 'ROLE', 'JOINED'],
            items.map((m) => [m.name, m.email, m.role, m.createdAt]),
          ),
        );
      }),
    );
  members
    .command('invite <email>')
    .description(
      'Invite someone by e-mail with a role: they join once they accept with the link it sends (meridian invitations accept), within 7 days; they need not have registered yet',
    )
    .requiredOption('--role <role>', ROLES.join(' | '))
    .action(
      action(async (ctx, email: string, opts: { role: string }) => {
        const role = parseRole(opts.role);
        const client = await ctx.client();
        const created = await client.request('post', '/v1/org/invitations', { body: { email, role } });
        ctx.print(created, () => invitedText(created));
      }),
    );
  members
    .command('invitations')
    .description('Pending invitations of the organisation (owners and admins)')
    .action(
      action(async (ctx) => {
        const { items } = await (await ctx.client()).request('get', '/v1/org/invitations');
        ctx.print(items, () =>
          table(
            ['ID', 'EMAIL', 'ROLE', 'INVITED BY', 'EXPIRES'],
            items.map((i) => [i.id, i.email, i.role, i.invitedBy, i.expiresAt]),
          ),
        );
      }),
    );
  members
    .command('revoke-invitation <email-or-id>')
    .description('Revoke a pending invitation, by the address invited or its id: its link stops working')
    .action(
      action(async (ctx, ref: string) => {
        const client = await ctx.client();
        const { items } = await client.request('get', '/v1/org/invitations');
        const wanted = ref.toLowerCase();
        const invitation = items.find((i) => i.id === ref || i.email === wanted);
        if (!invitation)
          throw new CliError(`No pending invitation for ${ref} (meridian members invitations)`);
        await client.request('delete', '/v1/org/invitations/{invitationId}', {
          path: { invitationId: invitation.id },
        });
        ctx.print(
          { revoked: invitation.id },
          () => `Revoked the invitation of ${invitation.email} (${invitation.role})`,
        );
      }),
    );
  members
    .command('role <email> <role>')
    .description(`Change a member’s role: ${ROLES.join(', ')} (only owners grant or take owner)`)
    .action(
      action(async (ctx, email: string, value: string) => {
        const role = parseRole(value);
        const client = await ctx.client();
        const member = await requireMember(client, email);
        // A minute back: the server's clock, which stamps the log, need not agree with this one.
        const since = new Date(Date.now() - 60_000);
        const changed = await client.request('patch', '/v1/org/members/{userId}', {
          path: { userId: member.userId },
          body: { role },
        });
        const revoked =
          member.role === changed.role
            ? []
            : await invitationsRevokedWith(client, { member: member.userId }, 'member.role_change', since);
        ctx.print({ ...changed, revokedInvitations: revoked }, () =>
          member.role === changed.role
            ? `${memberLabel(changed)} is already ${changed.role}`
            : `${memberLabel(changed)} is now ${changed.role} (was ${member.role})` +
              revokedInvitationsText(
                revoked,
                `The pending invitations they can no longer make as ${changed.role}`,
              ),
        );
      }),
    );
  members
    .command('remove <email>')
    .description(
      'Remove a member, or yourself to leave (any role may leave; never the last owner): their sessions in the organisation end at once',
    )
    .addOption(
      new Option(
        '--keys <what>',
        'the API keys they made: revoke them, or transfer them to you (owners only)',
      )
        .choices(['revoke', 'transfer'] as const)
        .default('revoke'),
    )
    .action(
      action(async (ctx, email: string, opts: { keys: 'revoke' | 'transfer' }) => {
        const client = await ctx.client();
        const member = await requireMember(client, email);
        const leaving = (await client.request('get', '/v1/auth/me')).user?.id === member.userId;
        const since = new Date(Date.now() - 60_000);
        await client.request('delete', '/v1/org/members/{userId}', {
          path: { userId: member.userId },
          query: { keys: opts.keys },
        });
        // One who leaves has no login there once they are gone, to read the log with.
        const revoked = leaving
          ? []
          : await invitationsRevokedWith(client, { member: member.userId }, 'member.remove', since);
        const keys = opts.keys === 'revoke' ? 'revoked' : 'transferred to you';
        ctx.print(
          { removed: member.userId, keys: opts.keys, revokedInvitations: revoked },
          () =>
            `Removed ${memberLabel(member)}; the API keys they made were ${keys}` +
            revokedInvitationsText(revoked, 'The pending invitations they (or their keys) sent'),
        );
      }),
    );
}
