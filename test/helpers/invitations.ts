import type { MeridianClient, Schema } from '@meridian/sdk';

/**
 * Brings a user into `owner`'s active organisation as people join one: the owner invites their e-mail, and
 * they accept with its token. Nobody is added without accepting; tests that need a second member go through this.
 */
export async function joinByInvitation(
  owner: MeridianClient,
  invitee: MeridianClient,
  email: string,
  role: Schema<'Member'>['role'],
): Promise<Schema<'AcceptedInvitation'>> {
  const created = await owner.request('post', '/v1/org/invitations', { body: { email, role } });
  // Accepting takes the token; without SMTP the answer carries it, as the link an inviter passes on.
  if (!created.token) throw new Error(`no invitation token came back (mailSent: ${created.mailSent})`);
  return invitee.request('post', '/v1/invitations/accept', { body: { token: created.token } });
}
