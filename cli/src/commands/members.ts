import { type MeridianClient, NotFoundError, type Schema } from '@meridian/sdk';
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

export async function listMembers(client: MeridianClient): Promise<Member[]> {
  return (await client.request('get', '/v1/org/members')).items;
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
    .command('add <email>')
    .description('Add a user who has registered (meridian register) to the organisation, with a role')
    .requiredOption('--role <role>', ROLES.join(' | '))
    .action(
      action(async (ctx, email: string, opts: { role: string }) => {
        const role = parseRole(opts.role);
        const client = await ctx.client();
        const added = await client
          .request('post', '/v1/org/members', { body: { email, role } })
          .catch((err) => {
            // The API adds existing accounts only; it sends no invitation.
            if (err instanceof NotFoundError)
              throw new CliError(
                `No account with e-mail ${email}: they must register first (meridian register)`,
              );
            throw err;
          });
        ctx.print(added, () => `Added ${memberLabel(added)} as ${added.role}`);
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
        const changed = await client.request('patch', '/v1/org/members/{userId}', {
          path: { userId: member.userId },
          body: { role },
        });
        ctx.print(changed, () =>
          member.role === changed.role
            ? `${memberLabel(changed)} is already ${changed.role}`
            : `${memberLabel(changed)} is now ${changed.role} (was ${member.role})`,
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
        await client.request('delete', '/v1/org/members/{userId}', {
          path: { userId: member.userId },
          query: { keys: opts.keys },
        });
        const keys = opts.keys === 'revoke' ? 'revoked' : 'transferred to you';
        ctx.print(
          { removed: member.userId, keys: opts.keys },
          () => `Removed ${memberLabel(member)}; the API keys they made were ${keys}`,
        );
      }),
    );
}
