import { newId } from '@meridian/protocol';
import { and, eq } from 'drizzle-orm';
import type { IdentityCache } from '../../auth/identity-cache.js';
import { requirePermission } from '../../auth/permissions.js';
import type { Actor } from '../../auth/principal.js';
import type { Database } from '../../db/client.js';
import { memberships, orgs } from '../../db/schema.js';
import { forbidden, notFound } from '../../errors.js';
import { recordAudit } from '../audit/record.js';
import { type AuthDeps, issueSession } from '../auth/sessions.js';

/** A user creates an org and becomes its owner. API keys belong to one org and cannot create others. */
export async function createOrg(db: Database, identities: IdentityCache, actor: Actor, name: string) {
  const { principal } = actor;
  if (principal.type !== 'user') throw forbidden('Only users can create organisations');
  const org = { id: newId('org'), name, personal: false };
  await db.transaction(async (tx) => {
    await tx.insert(orgs).values(org);
    await tx
      .insert(memberships)
      .values({ id: newId('membership'), orgId: org.id, userId: principal.userId, role: 'owner' });
    await recordAudit(tx, actor, {
      orgId: org.id,
      action: 'org.create',
      targetType: 'org',
      targetId: org.id,
      metadata: { name },
    });
  });
  identities.invalidateUser(principal.userId);
  return { id: org.id, name: org.name, role: 'owner' as const, personal: false };
}

export async function getActiveOrg(db: Database, actor: Actor) {
  requirePermission(actor.principal, 'org:read');
  const [org] = await db.select().from(orgs).where(eq(orgs.id, actor.principal.orgId));
  if (!org) throw notFound('Organisation');
  return {
    id: org.id,
    name: org.name,
    personal: org.personal,
    plan: org.plan,
    suspended: org.suspendedAt !== null,
    createdAt: org.createdAt.toISOString(),
  };
}

export async function renameActiveOrg(db: Database, identities: IdentityCache, actor: Actor, name: string) {
  requirePermission(actor.principal, 'org:write');
  const orgId = actor.principal.orgId;
  await db.transaction(async (tx) => {
    await tx.update(orgs).set({ name }).where(eq(orgs.id, orgId));
    await recordAudit(tx, actor, {
      orgId,
      action: 'org.update',
      targetType: 'org',
      targetId: orgId,
      metadata: { name },
    });
  });
  identities.invalidateOrg(orgId);
  return getActiveOrg(db, actor);
}

/** A new token pair naming `orgId`; an org the user is not in answers 404 like any other foreign resource. */
export async function switchOrg(deps: AuthDeps, actor: Actor, orgId: string) {
  const { principal } = actor;
  if (principal.type !== 'user') throw forbidden('API keys belong to one organisation');
  const [membership] = await deps.db
    .select({ id: memberships.id })
    .from(memberships)
    .where(and(eq(memberships.orgId, orgId), eq(memberships.userId, principal.userId)));
  if (!membership) throw notFound('Organisation');
  return issueSession(deps, principal.userId, orgId);
}
