import { asc, eq } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { memberships, orgs, type Role, users } from '../db/schema.js';

/** A user as authentication and /v1/auth/me see them: profile plus every membership. */
export interface Identity {
  userId: string;
  email: string;
  name: string;
  memberships: { orgId: string; orgName: string; role: Role; personal: boolean }[];
}

/**
 * Identities by user id, so a warm authenticated request costs no database read. Changes made through
 * this instance invalidate at once; changes made by another instance are seen within `ttlMs` (2 s), which
 * bounds how long a removed member's token keeps working there.
 */
export class IdentityCache {
  private entries = new Map<string, { identity: Identity | null; until: number }>();

  constructor(
    private readonly ttlMs = 2_000,
    private readonly maxEntries = 50_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The identity, loading it with one query when it is not cached or is stale; null for no such user. */
  async load(db: Database, userId: string): Promise<Identity | null> {
    const entry = this.entries.get(userId);
    if (entry && entry.until > this.now()) return entry.identity;
    const identity = await loadIdentity(db, userId);
    this.remember(userId, identity);
    return identity;
  }

  invalidateUser(userId: string): void {
    this.entries.delete(userId);
  }

  /** After an org-wide change (a rename): drop every cached identity that belongs to the org. */
  invalidateOrg(orgId: string): void {
    for (const [userId, entry] of this.entries) {
      if (entry.identity?.memberships.some((m) => m.orgId === orgId)) this.entries.delete(userId);
    }
  }

  private remember(userId: string, identity: Identity | null) {
    if (this.entries.size >= this.maxEntries) {
      // Maps iterate in insertion order: the first key is the oldest entry.
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(userId, { identity, until: this.now() + this.ttlMs });
  }
}

async function loadIdentity(db: Database, userId: string): Promise<Identity | null> {
  const rows = await db
    .select({
      email: users.email,
      name: users.name,
      orgId: memberships.orgId,
      role: memberships.role,
      orgName: orgs.name,
      personal: orgs.personal,
    })
    .from(users)
    .leftJoin(memberships, eq(memberships.userId, users.id))
    .leftJoin(orgs, eq(orgs.id, memberships.orgId))
    .where(eq(users.id, userId))
    .orderBy(asc(memberships.createdAt));
  const [first] = rows;
  if (!first) return null;
  const list: Identity['memberships'] = [];
  for (const r of rows) {
    if (r.orgId && r.role && r.orgName !== null && r.personal !== null) {
      list.push({ orgId: r.orgId, orgName: r.orgName, role: r.role, personal: r.personal });
    }
  }
  return { userId, email: first.email, name: first.name, memberships: list };
}
