import { and, asc, eq, gt } from 'drizzle-orm';
import type { IdentityCache } from '../../auth/identity-cache.js';
import { canAssignRole, lowerRole, requirePermission } from '../../auth/permissions.js';
import type { Actor } from '../../auth/principal.js';
import type { Database } from '../../db/client.js';
import { apiKeys, memberships, type Role, users } from '../../db/schema.js';
import { conflict, forbidden, notFound } from '../../errors.js';
import { keysMadeBy } from '../api-keys/made-by.js';
import { recordAudit } from '../audit/record.js';
import { type AuthDeps, revokeUserSessions } from '../auth/sessions.js';
import { stopNotebooksOf } from '../notebooks/notebooks.js';
import { idCursor, splitPage } from '../pagination.js';
import { revokeInvitationsInviterCannotGrant } from './inviter-standing.js';

const memberColumns = {
  userId: users.id,
  email: users.email,
  name: users.name,
  role: memberships.role,
  createdAt: memberships.createdAt,
};

function present(row: { userId: string; email: string; name: string; role: Role; createdAt: Date }) {
  return { ...row, createdAt: row.createdAt.toISOString() };
}

/**
 * One page of the org's members, in the order they joined: membership ids sort by creation time, so the
 * cursor is the last membership's id.
 */
export async function listMembers(db: Database, actor: Actor, page: { limit: number; cursor?: string }) {
  requirePermission(actor.principal, 'org:read');
  const after = idCursor(page.cursor, 'mem');
  const rows = await db
    .select({ ...memberColumns, membershipId: memberships.id })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(eq(memberships.orgId, actor.principal.orgId), after ? gt(memberships.id, after) : undefined))
    .orderBy(asc(memberships.id))
    .limit(page.limit + 1);
  const { items, nextCursor } = splitPage(rows, page.limit, (r) => r.membershipId);
  return { items: items.map(({ membershipId: _, ...member }) => present(member)), nextCursor };
}

function actorRole(actor: Actor): Role | 'api_key_admin' {
  return actor.principal.type === 'user' ? actor.principal.role : 'api_key_admin';
}

/** Admins may grant, invite to or take any role but owner; owners any role. */
export function assertCanAssign(actor: Actor, role: Role) {
  if (!canAssignRole(actorRole(actor), role))
    throw forbidden('Only owners can grant or remove the owner role');
}

async function findMember(db: Database, orgId: string, userId: string) {
  const [row] = await db
    .select(memberColumns)
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(eq(memberships.orgId, orgId), eq(memberships.userId, userId)));
  if (!row) throw notFound('Member');
  return row;
}

type Tx = Parameters<Parameters<Database['transaction']>[0]>[0];

/**
 * Checked inside the transaction, after the demotion or removal is written: two owners demoting or removing
 * each other at once would both pass a check made before either wrote, and leave the org with none.
 */
async function assertAnOwnerRemains(tx: Tx, orgId: string) {
  const [owner] = await tx
    .select({ id: memberships.id })
    .from(memberships)
    .where(and(eq(memberships.orgId, orgId), eq(memberships.role, 'owner')))
    .limit(1);
  if (!owner) throw conflict('An organisation must keep at least one owner');
}

export async function changeRole(
  db: Database,
  cache: IdentityCache,
  actor: Actor,
  userId: string,
  role: Role,
) {
  requirePermission(actor.principal, 'members:manage');
  const orgId = actor.principal.orgId;
  const member = await findMember(db, orgId, userId);
  assertCanAssign(actor, member.role);
  assertCanAssign(actor, role);
  if (member.role === role) return present(member);
  await db.transaction(async (tx) => {
    await tx
      .update(memberships)
      .set({ role })
      .where(and(eq(memberships.orgId, orgId), eq(memberships.userId, userId)));
    await assertAnOwnerRemains(tx, orgId);
    await recordAudit(tx, actor, {
      orgId,
      action: 'member.role_change',
      targetType: 'user',
      targetId: userId,
      metadata: { from: member.role, to: role, email: member.email },
    });
    // The member's keys follow them down (never up: a promotion does not widen keys made before it).
    const made = await keysMadeBy(tx, orgId, userId);
    for (const key of made) {
      const capped = lowerRole(key.roleCap, role);
      if (capped === key.roleCap) continue;
      await tx.update(apiKeys).set({ roleCap: capped }).where(eq(apiKeys.id, key.id));
      await recordAudit(tx, actor, {
        orgId,
        action: 'api_key.cap',
        targetType: 'api_key',
        targetId: key.id,
        metadata: { name: key.name, from: key.roleCap, to: capped, reason: 'member.role_change' },
      });
    }
    // And so do the invitations they (or those keys) sent and could no longer send.
    const inviters = [userId, ...made.map((key) => key.id)];
    await revokeInvitationsInviterCannotGrant(tx, actor, orgId, inviters, 'member.role_change', {
      member: userId,
    });
  });
  cache.invalidateUser(userId);
  return present({ ...member, role });
}

/** What happens to the API keys a removed member made: revoked (default), or handed to the acting owner. */
export type RemovedMemberKeys = 'revoke' | 'transfer';

/**
 * Removes a member: their sessions in this org end, and the keys they made (and keys those keys made) are
 * revoked, or, by an owner's choice, transferred to that owner with their caps unchanged; each is audited, and so
 * is each pending invitation they (or a key revoked with them) sent, revoked with them.
 * Any member may remove themself (leave), whatever their role, but never as the last owner; their keys go.
 */
export async function removeMember(
  deps: Pick<AuthDeps, 'db' | 'sessions'>,
  cache: IdentityCache,
  actor: Actor,
  userId: string,
  keys: RemovedMemberKeys = 'revoke',
) {
  const { db } = deps;
  const { principal } = actor;
  // Nobody else decides whether a user stays in an org, as nobody else decided they would join it.
  const leaving = principal.type === 'user' && principal.userId === userId;
  if (!leaving) requirePermission(principal, 'members:manage');
  const orgId = principal.orgId;
  if (keys === 'transfer' && leaving) {
    throw forbidden('Your API keys cannot be handed to you as you leave: they are revoked (keys=revoke)');
  }
  if (keys === 'transfer' && !(principal.type === 'user' && principal.role === 'owner')) {
    throw forbidden('Only an owner can take over a removed member’s API keys; revoke them instead');
  }
  const member = await findMember(db, orgId, userId);
  if (!leaving) assertCanAssign(actor, member.role);
  await db.transaction(async (tx) => {
    await tx.delete(memberships).where(and(eq(memberships.orgId, orgId), eq(memberships.userId, userId)));
    await assertAnOwnerRemains(tx, orgId);
    // Every login names an org: a user in none could not log in again, not even to create one.
    if (leaving) {
      const [another] = await tx
        .select({ id: memberships.id })
        .from(memberships)
        .where(eq(memberships.userId, userId))
        .limit(1);
      if (!another)
        throw conflict('This is your only organisation: create or join another before leaving it');
    }
    await recordAudit(tx, actor, {
      orgId,
      action: 'member.remove',
      targetType: 'user',
      targetId: userId,
      metadata: { keys, email: member.email },
    });
    await stopNotebooksOf(tx, actor, orgId, userId);
    const made = await keysMadeBy(tx, orgId, userId);
    const now = new Date();
    for (const key of made) {
      if (keys === 'transfer' && principal.type === 'user' && key.createdById === userId) {
        await tx
          .update(apiKeys)
          .set({ createdById: principal.userId, createdByType: 'user' })
          .where(eq(apiKeys.id, key.id));
        await recordAudit(tx, actor, {
          orgId,
          action: 'api_key.transfer',
          targetType: 'api_key',
          targetId: key.id,
          metadata: { name: key.name, from: userId, to: principal.userId },
        });
      } else if (keys === 'revoke') {
        await tx.update(apiKeys).set({ revokedAt: now }).where(eq(apiKeys.id, key.id));
        await recordAudit(tx, actor, {
          orgId,
          action: 'api_key.revoke',
          targetType: 'api_key',
          targetId: key.id,
          metadata: { name: key.name, reason: 'member.remove', member: userId },
        });
      }
    }
    // Their pending invitations, and those of the keys revoked with them, go too; a transferred key's stay.
    const inviters = [userId, ...made.map((key) => key.id)];
    await revokeInvitationsInviterCannotGrant(tx, actor, orgId, inviters, 'member.remove', {
      member: userId,
    });
  });
  await revokeUserSessions(deps, userId, 'member_removed', orgId);
  cache.invalidateUser(userId);
}
