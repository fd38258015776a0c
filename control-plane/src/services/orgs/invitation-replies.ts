import { newId } from '@meridian/protocol';
import { and, eq } from 'drizzle-orm';
import type { IdentityCache } from '../../auth/identity-cache.js';
import type { Actor, Principal } from '../../auth/principal.js';
import type { Database } from '../../db/client.js';
import { invitations, memberships, orgs, type Role, users } from '../../db/schema.js';
import { conflict, forbidden, notFound } from '../../errors.js';
import { sha256Hex } from '../../lib/secrets.js';
import { recordAudit } from '../audit/record.js';
import { invitationColumns, presentInvitation } from './invitations.js';
import { inviterMayStillGrant } from './inviter-standing.js';

/**
 * Which invitation a reply is about: the token its e-mail (or the link an inviter passed on) carried. Never its
 * id: registration does not verify e-mail addresses, so being signed in as the invited address proves nothing;
 * holding the token is what shows the mailbox (or whoever the inviter chose) received it.
 */
export interface InvitationRef {
  token: string;
}

async function callerEmail(db: Database, principal: Principal): Promise<{ userId: string; email: string }> {
  // An invitation is to a person; an API key belongs to an org and joins none.
  if (principal.type !== 'user') throw forbidden('Only a signed-in user can see or answer their invitations');
  const [user] = await db.select({ email: users.email }).from(users).where(eq(users.id, principal.userId));
  if (!user) throw notFound('User');
  return { userId: principal.userId, email: user.email };
}

/**
 * The caller's own invitation by its token, whatever its state. A token for another address answers exactly as
 * one that does not exist (404): a forwarded or leaked link is of no use to another account, and tokens cannot
 * be probed. Only the invitee learns why theirs is closed.
 */
async function findOwnInvitation(db: Database, email: string, ref: InvitationRef) {
  const [row] = await db
    .select({ ...invitationColumns, invitedById: invitations.invitedById })
    .from(invitations)
    .innerJoin(orgs, eq(orgs.id, invitations.orgId))
    .where(eq(invitations.tokenHash, sha256Hex(ref.token)));
  if (!row || row.email !== email) throw notFound('Invitation');
  const closed: Record<string, string> = {
    accepted: 'You have accepted this invitation already',
    declined: 'You declined this invitation; ask an owner or admin for another',
    revoked: `This invitation was revoked by ${row.orgName}`,
    replaced: `A newer invitation to ${row.orgName} replaced this one: use the latest`,
  };
  const reason = closed[row.status];
  if (reason) throw conflict(reason);
  if (row.expiresAt.getTime() <= Date.now())
    throw conflict(
      `This invitation expired at ${row.expiresAt.toISOString()}; ask an owner or admin of ${row.orgName} for another`,
    );
  await assertInviterMayStillGrant(db, row);
  return row;
}

type Reader = Pick<Database, 'select'>;

/**
 * Removals, demotions and key revocations revoke what the inviter can no longer grant as they happen; this still
 * refuses the rest (a key that expired since) and one that lands between reading the invitation and accepting it.
 */
async function assertInviterMayStillGrant(
  db: Reader,
  row: { orgId: string; invitedById: string; invitedBy: string; role: Role },
) {
  if (!(await inviterMayStillGrant(db, row)))
    throw conflict(
      `${row.invitedBy} can no longer invite you to this organisation as ${row.role}: ask an owner or admin for another invitation`,
    );
}

/**
 * What the caller would accept with this token (organisation, inviter, role, expiry), so the page the mailed
 * link opens can say it before they answer. 404 and 409 as accepting would answer.
 */
export async function previewInvitation(db: Database, principal: Principal, ref: InvitationRef) {
  const { email } = await callerEmail(db, principal);
  return presentInvitation(await findOwnInvitation(db, email, ref));
}

/** Accepts the caller's invitation: they join its org with its role. Answers their new membership. */
export async function acceptInvitation(db: Database, cache: IdentityCache, actor: Actor, ref: InvitationRef) {
  const { userId, email } = await callerEmail(db, actor.principal);
  const row = await findOwnInvitation(db, email, ref);
  await db.transaction(async (tx) => {
    // Only one of two concurrent replies closes the invitation.
    const closed = await tx
      .update(invitations)
      .set({ status: 'accepted', closedAt: new Date() })
      .where(and(eq(invitations.id, row.id), eq(invitations.status, 'pending')))
      .returning({ id: invitations.id });
    if (!closed[0]) throw conflict('This invitation has been answered already');
    // Again inside the transaction, so a removal or demotion that lands meanwhile is not missed.
    await assertInviterMayStillGrant(tx, row);
    const [member] = await tx
      .select({ id: memberships.id })
      .from(memberships)
      .where(and(eq(memberships.orgId, row.orgId), eq(memberships.userId, userId)));
    if (member) throw conflict(`You are already a member of ${row.orgName}`);
    await tx
      .insert(memberships)
      .values({ id: newId('membership'), orgId: row.orgId, userId, role: row.role });
    await recordAudit(tx, actor, {
      orgId: row.orgId,
      action: 'invitation.accept',
      targetType: 'invitation',
      targetId: row.id,
      metadata: { email, role: row.role, userId, invitedBy: row.invitedBy },
    });
  });
  cache.invalidateUser(userId);
  return { org: { id: row.orgId, name: row.orgName }, role: row.role };
}

/** Declines the caller's invitation; the org sees it in its audit log and may invite again. */
export async function declineInvitation(db: Database, actor: Actor, ref: InvitationRef): Promise<void> {
  const { email } = await callerEmail(db, actor.principal);
  const row = await findOwnInvitation(db, email, ref);
  await db.transaction(async (tx) => {
    const closed = await tx
      .update(invitations)
      .set({ status: 'declined', closedAt: new Date() })
      .where(and(eq(invitations.id, row.id), eq(invitations.status, 'pending')))
      .returning({ id: invitations.id });
    if (!closed[0]) throw conflict('This invitation has been answered already');
    await recordAudit(tx, actor, {
      orgId: row.orgId,
      action: 'invitation.decline',
      targetType: 'invitation',
      targetId: row.id,
      metadata: { email, role: row.role, invitedBy: row.invitedBy },
    });
  });
}
