import type { MeridianClient, Schema } from '@meridian/sdk';

/**
 * Brings a user into `owner`'s active organisation as people join one: the owner invites their e-mail, and
 * they accept. Nobody is added without accepting; tests that need a second member go through this.
 */
export async function joinByInvitation(
  owner: MeridianClient,
  invitee: MeridianClient,
  email: string,
  role: Schema<'Member'>['role'],
): Promise<Schema<'AcceptedInvitation'>> {
  const { invitation } = await owner.request('post', '/v1/org/invitations', { body: { email, role } });
  return invitee.request('post', '/v1/invitations/{invitationId}/accept', {
    path: { invitationId: invitation.id },
  });
}
