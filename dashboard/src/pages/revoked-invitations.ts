import type { MeridianClient } from '@meridian/sdk';

/** The change to a member that can take their pending invitations with it. */
export type MemberChange = 'member.remove' | 'member.role_change';

/**
 * The invitations a removal or demotion of `userId` revoked with it (they, or keys that went or were capped
 * with them, could no longer make them), as `address (role)`, read from the audit log since `since`.
 */
export async function invitationsRevokedWith(
  client: MeridianClient,
  userId: string,
  change: MemberChange,
  since: Date,
): Promise<string[]> {
  const { items } = await client.request('get', '/v1/audit-log', {
    query: { action: 'invitation.revoke', since: since.toISOString(), limit: 200 },
  });
  return items
    .filter((e) => e.metadata.member === userId && e.metadata.reason === change)
    .map((e) => `${String(e.metadata.email)} (${String(e.metadata.role)})`);
}
