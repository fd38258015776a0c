import type { AttemptResult } from '../notifications/webhook.js';
import type { CreatedInvitation } from './invitations.js';

/** What sends mail: the SMTP mailer (MERIDIAN_SMTP_*) the notification channels use. */
export interface Mailer {
  send(to: string, subject: string, text: string): Promise<AttemptResult>;
}

/** Where invitations are answered: the dashboard on the control plane's public URL. */
export function acceptUrl(publicUrl: string, token: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/invitations?token=${encodeURIComponent(token)}`;
}

export function invitationMail(created: CreatedInvitation, publicUrl: string) {
  const { invitation, token } = created;
  const subject = `${invitation.invitedBy} invited you to ${invitation.org.name} on Meridian`;
  const text = [
    `${invitation.invitedBy} invited you to join the organisation "${invitation.org.name}" on Meridian as ${invitation.role}.`,
    '',
    `Accept it here: ${acceptUrl(publicUrl, token)}`,
    `or with the CLI: meridian invitations accept --token ${token}`,
    '',
    `Sign in (or register) as ${invitation.email} first: only that account can accept it.`,
    `The invitation expires at ${invitation.expiresAt}.`,
    'If you did not expect it, ignore this mail or decline the invitation; nothing changes until you accept.',
  ].join('\n');
  return { subject, text };
}

/** How the invitation reached (or failed to reach) the invitee; without mail the inviter gets the link once. */
export type InvitationDelivery =
  | { mailSent: true }
  | { mailSent: false; mailError: string; token: string; acceptUrl: string };

/** Mails the invitation; when no SMTP server is set up or it fails, the answer carries the link instead. */
export async function deliverInvitation(
  mailer: Mailer | undefined,
  publicUrl: string,
  created: CreatedInvitation,
): Promise<InvitationDelivery> {
  const link = { token: created.token, acceptUrl: acceptUrl(publicUrl, created.token) };
  if (!mailer)
    return { mailSent: false, mailError: 'no SMTP server is configured (MERIDIAN_SMTP_HOST)', ...link };
  const { subject, text } = invitationMail(created, publicUrl);
  const result = await mailer.send(created.invitation.email, subject, text);
  if (result.ok) return { mailSent: true };
  return { mailSent: false, mailError: result.error ?? 'the mail could not be sent', ...link };
}
