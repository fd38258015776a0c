import { asc, eq } from 'drizzle-orm';
import type { IdentityCache } from '../../auth/identity-cache.js';
import type { Principal } from '../../auth/principal.js';
import type { Database } from '../../db/client.js';
import { apiKeys, memberships, orgs } from '../../db/schema.js';
import { notFound } from '../../errors.js';

/** The caller, its active org and role, and every org the user can switch to. */
export async function describeCaller(db: Database, identities: IdentityCache, principal: Principal) {
  if (principal.type === 'api_key') {
    const [org] = await db
      .select({ id: orgs.id, name: orgs.name })
      .from(orgs)
      .where(eq(orgs.id, principal.orgId));
    if (!org) throw notFound('Organisation');
    const [key] = await db
      .select({ id: apiKeys.id, name: apiKeys.name })
      .from(apiKeys)
      .where(eq(apiKeys.id, principal.keyId));
    return {
      type: 'api_key' as const,
      apiKey: { id: principal.keyId, name: key?.name ?? '', scopes: principal.scopes },
      org,
    };
  }
  // The identity the request was just authenticated with: served from the cache, no extra query.
  const identity = await identities.load(db, principal.userId);
  const active = identity?.memberships.find((m) => m.orgId === principal.orgId);
  if (!identity || !active) throw notFound('Organisation');
  return {
    type: 'user' as const,
    user: { id: identity.userId, email: identity.email, name: identity.name },
    org: { id: active.orgId, name: active.orgName },
    role: active.role,
    orgs: identity.memberships.map((m) => ({
      id: m.orgId,
      name: m.orgName,
      role: m.role,
      personal: m.personal,
    })),
  };
}

export async function listUserOrgs(db: Database, userId: string) {
  return db
    .select({ id: orgs.id, name: orgs.name, role: memberships.role, personal: orgs.personal })
    .from(memberships)
    .innerJoin(orgs, eq(orgs.id, memberships.orgId))
    .where(eq(memberships.userId, userId))
    .orderBy(asc(memberships.createdAt));
}
