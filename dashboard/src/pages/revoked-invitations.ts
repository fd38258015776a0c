import type { MeridianClient } from '@meridian/sdk';

/** The change to a member that can take their pending invitations with it. */
export type MemberChange = 'member.remove' | 'member.role_change';

/** A change that can take pending invitations with it: one to a member, or a key revoked. */
export type InviterChange = MemberChange | 'api_key.revoke';

/** Whom the change was made to, as each `invitation.revoke` entry it left names them. */
export type ChangedInviter = { member: string } | { key: string };

/**
 * The invitations a change revoked with it (a removal or demotion of a member: they, or keys that went or were
 * capped with them, could no longer make them; or a key revoked), as `address (role)`, read from the audit log
 * since `since`.
 */
export async function invitationsRevokedWith(
  client: MeridianClient,
  changed: ChangedInviter,
  change: InviterChange,
  since: Date,
): Promise<string[]> {
  const { items } = await client.request('get', '/v1/audit-log', {
    query: { action: 'invitation.revoke', since: since.toISOString(), limit: 200 },
  });
  const [field, id] = 'member' in changed ? ['member', changed.member] : ['key', changed.key];
  return items
    .filter((e) => e.metadata[field] === id && e.metadata.reason === change)
    .map((e) => `${String(e.metadata.email)} (${String(e.metadata.role)})`);
}
