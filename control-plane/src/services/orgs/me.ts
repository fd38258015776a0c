import { asc, eq } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { apiKeys, memberships, orgs, users } from '../../db/schema.js';
import { notFound } from '../../errors.js';
import type { Principal } from '../../http/context.js';

/** The caller, its active org and role, and every org the user can switch to. */
export async function describeCaller(db: Database, principal: Principal) {
  const [org] = await db
    .select({ id: orgs.id, name: orgs.name })
    .from(orgs)
    .where(eq(orgs.id, principal.orgId));
  if (!org) throw notFound('Organisation');
  if (principal.type === 'api_key') {
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
  const [user] = await db
    .select({ id: users.id, email: users.email, name: users.name })
    .from(users)
    .where(eq(users.id, principal.userId));
  if (!user) throw notFound('User');
  return { type: 'user' as const, user, org, role: principal.role, orgs: await listUserOrgs(db, user.id) };
}

export async function listUserOrgs(db: Database, userId: string) {
  return db
    .select({ id: orgs.id, name: orgs.name, role: memberships.role, personal: orgs.personal })
    .from(memberships)
    .innerJoin(orgs, eq(orgs.id, memberships.orgId))
    .where(eq(memberships.userId, userId))
    .orderBy(asc(memberships.createdAt));
}
