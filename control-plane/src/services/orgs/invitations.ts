import { newId } from '@meridian/protocol';
import { and, asc, count, eq, gt, gte } from 'drizzle-orm';
import { requirePermission } from '../../auth/permissions.js';
import type { Actor } from '../../auth/principal.js';
import type { Database } from '../../db/client.js';
import { apiKeys, invitations, memberships, orgs, type Role, users } from '../../db/schema.js';
import { AppError, conflict, forbidden, notFound } from '../../errors.js';
import { randomSecret, sha256Hex } from '../../lib/secrets.js';
import { recordAudit } from '../audit/record.js';
import { inviterMayStillGrant } from './inviter-standing.js';
import { assertCanAssign } from './members.js';

export const INVITATION_TTL_MS = 7 * 86_400_000;

/** Bounds that keep an org from using invitations to mail strangers in bulk. */
export interface InvitationLimits {
  /** Unexpired pending invitations an org may hold at once. */
  maxPending: number;
  /**
   * Invitations an org may send in any 24 hours (re-invitations and revoked ones count), and one person across
   * all the orgs they invite for.
   */
  maxPerDay: number;
}
export const DEFAULT_INVITATION_LIMITS: InvitationLimits = { maxPending: 50, maxPerDay: 200 };

export const invitationColumns = {
  id: invitations.id,
  email: invitations.email,
  role: invitations.role,
  status: invitations.status,
  invitedBy: invitations.invitedByName,
  createdAt: invitations.createdAt,
  expiresAt: invitations.expiresAt,
  orgId: orgs.id,
  orgName: orgs.name,
};
export type InvitationRow = {
  id: string;
  email: string;
  role: Role;
  status: string;
  invitedBy: string;
  createdAt: Date;
  expiresAt: Date;
  orgId: string;
  orgName: string;
};

/** An invitation as both its inviters and its invitee read it. */
export function presentInvitation(row: InvitationRow) {
  return {
    id: row.id,
    email: row.email,
    role: row.role,
    org: { id: row.orgId, name: row.orgName },
    invitedBy: row.invitedBy,
    createdAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt.toISOString(),
  };
}
export type Invitation = ReturnType<typeof presentInvitation>;

/** The invitation as created, with its token: the token is never stored or shown again. */
export interface CreatedInvitation {
  invitation: Invitation;
  token: string;
}

/** Who an invitation names as its inviter, the user or the key itself (not its maker), and when that key expires. */
async function inviterOf(
  db: Database,
  actor: Actor,
): Promise<{ id: string; name: string; expiresAt: Date | null }> {
  const { principal } = actor;
  if (principal.type === 'user') {
    const [user] = await db.select({ email: users.email }).from(users).where(eq(users.id, principal.userId));
    return { id: principal.userId, name: user?.email ?? principal.userId, expiresAt: null };
  }
  const [key] = await db
    .select({ name: apiKeys.name, expiresAt: apiKeys.expiresAt })
    .from(apiKeys)
    .where(eq(apiKeys.id, principal.keyId));
  return {
    id: principal.keyId,
    name: key ? `key ${key.name}` : principal.keyId,
    expiresAt: key?.expiresAt ?? null,
  };
}

/** Keys made by keys are followed this many generations back to the user who made the first. */
const MAX_KEY_GENERATIONS = 10;

/** The user accountable for what `actor` sends: themself, or whoever made the key (through keys that made keys). */
async function accountableUser(db: Database, actor: Actor): Promise<string | undefined> {
  const { principal } = actor;
  if (principal.type === 'user') return principal.userId;
  let keyId = principal.keyId;
  for (let generation = 0; generation < MAX_KEY_GENERATIONS; generation++) {
    const [key] = await db
      .select({ type: apiKeys.createdByType, id: apiKeys.createdById })
      .from(apiKeys)
      .where(eq(apiKeys.id, keyId));
    if (!key) return undefined;
    if (key.type === 'user') return key.id;
    keyId = key.id;
  }
  return undefined;
}

async function assertNotMember(db: Database, orgId: string, email: string) {
  const [member] = await db
    .select({ name: users.name, email: users.email })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(eq(memberships.orgId, orgId), eq(users.email, email)));
  if (member) throw conflict(`${member.name} (${member.email}) is already a member of this organisation`);
}

/**
 * Invites `email` with `role`: a pending invitation that only the account with that e-mail can accept, within
 * seven days (or until the inviting key expires, if sooner). A pending invitation to the same address is replaced
 * (its token stops working).
 */
export async function inviteMember(
  db: Database,
  actor: Actor,
  input: { email: string; role: Role },
  limits: InvitationLimits = DEFAULT_INVITATION_LIMITS,
): Promise<CreatedInvitation> {
  requirePermission(actor.principal, 'members:manage');
  assertCanAssign(actor, input.role);
  const orgId = actor.principal.orgId;
  const email = input.email.toLowerCase();
  await assertNotMember(db, orgId, email);
  const inviter = await inviterOf(db, actor);
  const sender = await accountableUser(db, actor);
  const token = randomSecret(32);
  const id = newId('invitation');
  const now = Date.now();
  // A key's invitation is no use once the key expires (accepting is refused then), so it expires with the key and
  // leaves the pending list when it stops being acceptable.
  const expiresAt = new Date(
    Math.min(now + INVITATION_TTL_MS, inviter.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY),
  );
  await db.transaction(async (tx) => {
    // The write comes first so that concurrent invitations of one org queue behind each other here.
    const replaced = await tx
      .update(invitations)
      .set({ status: 'replaced', closedAt: new Date(now) })
      .where(
        and(eq(invitations.orgId, orgId), eq(invitations.email, email), eq(invitations.status, 'pending')),
      )
      .returning({ id: invitations.id });
    // The credential may predate a removal or demotion another instance made (its cache is up to 2 s old): the
    // write above queued this behind that change, which revoked the inviter's invitations; this one must not follow.
    if (!(await inviterMayStillGrant(tx, { orgId, invitedById: inviter.id, role: input.role })))
      throw forbidden(`You can no longer invite to this organisation as ${input.role}`);
    const [pending] = await tx
      .select({ n: count() })
      .from(invitations)
      .where(
        and(
          eq(invitations.orgId, orgId),
          eq(invitations.status, 'pending'),
          gt(invitations.expiresAt, new Date(now)),
        ),
      );
    if ((pending?.n ?? 0) >= limits.maxPending)
      throw new AppError(
        'too_many_requests',
        `${limits.maxPending} invitations are pending in this organisation: revoke some or wait until they are accepted or expire`,
      );
    const [sent] = await tx
      .select({ n: count() })
      .from(invitations)
      .where(and(eq(invitations.orgId, orgId), gte(invitations.createdAt, new Date(now - 86_400_000))));
    if ((sent?.n ?? 0) >= limits.maxPerDay)
      throw new AppError(
        'too_many_requests',
        `This organisation has sent ${limits.maxPerDay} invitations in the last 24 hours; try again later`,
        undefined,
        { 'retry-after': '3600' },
      );
    // Anyone can make orgs, each with its own allowance: a person's invitations are bounded across all of theirs,
    // those their keys send included.
    if (sender) {
      const [mine] = await tx
        .select({ n: count() })
        .from(invitations)
        .where(
          and(eq(invitations.senderUserId, sender), gte(invitations.createdAt, new Date(now - 86_400_000))),
        );
      if ((mine?.n ?? 0) >= limits.maxPerDay)
        throw new AppError(
          'too_many_requests',
          `You have sent ${limits.maxPerDay} invitations in the last 24 hours, across your organisations; try again later`,
          undefined,
          { 'retry-after': '3600' },
        );
    }
    await tx.insert(invitations).values({
      id,
      orgId,
      email,
      role: input.role,
      tokenHash: sha256Hex(token),
      invitedById: inviter.id,
      invitedByName: inviter.name,
      senderUserId: sender ?? null,
      createdAt: new Date(now),
      expiresAt,
    });
    await recordAudit(tx, actor, {
      orgId,
      action: 'invitation.create',
      targetType: 'invitation',
      targetId: id,
      metadata: { email, role: input.role, ...(replaced[0] ? { replaced: replaced[0].id } : {}) },
    });
  });
  return { invitation: await readInvitation(db, orgId, id), token };
}

async function readInvitation(db: Database, orgId: string, id: string): Promise<Invitation> {
  const [row] = await db
    .select(invitationColumns)
    .from(invitations)
    .innerJoin(orgs, eq(orgs.id, invitations.orgId))
    .where(and(eq(invitations.orgId, orgId), eq(invitations.id, id)));
  if (!row) throw notFound('Invitation');
  return presentInvitation(row);
}

/** The active org's pending, unexpired invitations, oldest first (owners and admins). */
export async function listOrgInvitations(db: Database, actor: Actor): Promise<Invitation[]> {
  requirePermission(actor.principal, 'members:manage');
  const rows = await db
    .select(invitationColumns)
    .from(invitations)
    .innerJoin(orgs, eq(orgs.id, invitations.orgId))
    .where(
      and(
        eq(invitations.orgId, actor.principal.orgId),
        eq(invitations.status, 'pending'),
        gt(invitations.expiresAt, new Date()),
      ),
    )
    .orderBy(asc(invitations.createdAt));
  return rows.map(presentInvitation);
}

/** Revokes a pending invitation of the active org; another org's id, or one no longer pending, is 404. */
export async function revokeInvitation(db: Database, actor: Actor, id: string): Promise<void> {
  requirePermission(actor.principal, 'members:manage');
  const orgId = actor.principal.orgId;
  const invitation = await readInvitation(db, orgId, id);
  // An admin may not take back an owner's invitation to make someone owner, as they could not have made it.
  assertCanAssign(actor, invitation.role);
  await db.transaction(async (tx) => {
    const revoked = await tx
      .update(invitations)
      .set({ status: 'revoked', closedAt: new Date() })
      .where(and(eq(invitations.orgId, orgId), eq(invitations.id, id), eq(invitations.status, 'pending')))
      .returning({ id: invitations.id });
    if (!revoked[0]) throw notFound('Pending invitation');
    await recordAudit(tx, actor, {
      orgId,
      action: 'invitation.revoke',
      targetType: 'invitation',
      targetId: id,
      metadata: { email: invitation.email, role: invitation.role },
    });
  });
}
