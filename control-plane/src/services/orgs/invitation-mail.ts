import type { Logger } from '../../lib/logger.js';
import { MAIL_NOT_TAKEN } from '../notifications/email.js';
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

/** The reasons an inviter reads. Never the SMTP server's own words: they name the platform's mail hosts and policy. */
export const NO_MAILER = 'no SMTP server is configured (MERIDIAN_SMTP_HOST)';
export const MAIL_FAILED = MAIL_NOT_TAKEN;

export interface InvitationDeliveryDeps {
  mailer?: Mailer | undefined;
  publicUrl: string;
  /** The operator's log: the SMTP error of a failed mail goes here, not to the inviter. */
  logger: Logger;
}

/** Mails the invitation; when no SMTP server is set up or it fails, the answer carries the link instead. */
export async function deliverInvitation(
  deps: InvitationDeliveryDeps,
  created: CreatedInvitation,
): Promise<InvitationDelivery> {
  const { token, invitation } = created;
  const link = { token, acceptUrl: acceptUrl(deps.publicUrl, token) };
  if (!deps.mailer) return { mailSent: false, mailError: NO_MAILER, ...link };
  const { subject, text } = invitationMail(created, deps.publicUrl);
  const result = await deps.mailer.send(invitation.email, subject, text);
  if (result.ok) return { mailSent: true };
  // The invitation names it for the operator; the token stays out, even should a server echo the mail back.
  deps.logger.warn('invitation mail not sent', {
    invitationId: invitation.id,
    orgId: invitation.org.id,
    error: (result.error ?? 'unknown error').replaceAll(token, '[withheld]'),
  });
  return { mailSent: false, mailError: MAIL_FAILED, ...link };
}
