import { ID_PREFIXES } from '@meridian/protocol';
import { and, eq, gt, inArray } from 'drizzle-orm';
import { can, canAssignRole } from '../../auth/permissions.js';
import type { Actor, Principal } from '../../auth/principal.js';
import type { Database } from '../../db/client.js';
import { apiKeys, invitations, memberships, type Role } from '../../db/schema.js';
import { recordAudit } from '../audit/record.js';

type Reader = Pick<Database, 'select'>;
type Tx = Parameters<Parameters<Database['transaction']>[0]>[0];

/**
 * Whether an invitation's inviter may grant its role now, not only when it was made: an admin removed or demoted
 * since (or a key revoked, expired or capped lower) cannot bring anyone in through an invitation they sent before,
 * as they could not send it now. `invitedById` is a user, or the API key that sent it (never the key's maker).
 */
export async function inviterMayStillGrant(
  db: Reader,
  invitation: { orgId: string; invitedById: string; role: Role },
): Promise<boolean> {
  const { orgId, invitedById, role } = invitation;
  if (invitedById.startsWith(`${ID_PREFIXES.apiKey}_`)) {
    const [key] = await db
      .select({
        scopes: apiKeys.scopes,
        roleCap: apiKeys.roleCap,
        revokedAt: apiKeys.revokedAt,
        expiresAt: apiKeys.expiresAt,
      })
      .from(apiKeys)
      .where(and(eq(apiKeys.id, invitedById), eq(apiKeys.orgId, orgId)));
    if (!key || key.revokedAt || (key.expiresAt && key.expiresAt.getTime() <= Date.now())) return false;
    const principal: Principal = {
      type: 'api_key',
      keyId: invitedById,
      orgId,
      scopes: key.scopes,
      roleCap: key.roleCap,
    };
    return can(principal, 'members:manage') && canAssignRole('api_key_admin', role);
  }
  const [member] = await db
    .select({ role: memberships.role })
    .from(memberships)
    .where(and(eq(memberships.orgId, orgId), eq(memberships.userId, invitedById)));
  if (!member) return false;
  const principal: Principal = { type: 'user', userId: invitedById, orgId, role: member.role, sessionId: '' };
  return can(principal, 'members:manage') && canAssignRole(member.role, role);
}

/** The change that took an inviter's right to invite: a member removed (or leaving), demoted, or a key revoked. */
export type InviterChange = 'member.remove' | 'member.role_change' | 'api_key.revoke';

/** Whom the change was made to, kept with each revocation so a reader can say whose change took which. */
export type ChangedInviter = { member: string } | { key: string };

/**
 * Revokes the pending invitations of `orgId` sent by `inviterIds` (users, or the keys that sent them) that their
 * sender could no longer make, each audited as `invitation.revoke` by `actor` with the address, `reason` and
 * `changed` (the member or key the change was made to).
 * Called in the transaction of the change, after its writes, so the org's list never shows an invitation that
 * accepting would refuse, and the invitee's link answers as for any revoked one.
 */
export async function revokeInvitationsInviterCannotGrant(
  tx: Tx,
  actor: Actor,
  orgId: string,
  inviterIds: readonly string[],
  reason: InviterChange,
  changed: ChangedInviter,
): Promise<void> {
  if (inviterIds.length === 0) return;
  const now = new Date();
  const pending = await tx
    .select({
      id: invitations.id,
      email: invitations.email,
      role: invitations.role,
      invitedById: invitations.invitedById,
      invitedBy: invitations.invitedByName,
    })
    .from(invitations)
    .where(
      and(
        eq(invitations.orgId, orgId),
        inArray(invitations.invitedById, [...inviterIds]),
        eq(invitations.status, 'pending'),
        gt(invitations.expiresAt, now),
      ),
    );
  for (const invitation of pending) {
    if (await inviterMayStillGrant(tx, { orgId, ...invitation })) continue;
    await tx
      .update(invitations)
      .set({ status: 'revoked', closedAt: now })
      .where(and(eq(invitations.id, invitation.id), eq(invitations.status, 'pending')));
    await recordAudit(tx, actor, {
      orgId,
      action: 'invitation.revoke',
      targetType: 'invitation',
      targetId: invitation.id,
      metadata: {
        email: invitation.email,
        role: invitation.role,
        invitedBy: invitation.invitedBy,
        reason,
        ...changed,
      },
    });
  }
}
