import { eq } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { sessions } from '../db/schema.js';

/** What an access token's `sid` stands for now. */
export interface SessionState {
  userId: string;
  orgId: string;
  revoked: boolean;
}

/**
 * Sessions by id, so a warm authenticated request costs no database read for its `sid`. A revocation made
 * through this instance invalidates at once; one made by another instance is seen within `ttlMs` (2 s, the
 * IdentityCache bound), which is how long a revoked session's access token can still work there.
 */
export class SessionCache {
  private entries = new Map<string, { state: SessionState | null; until: number }>();

  constructor(
    private readonly ttlMs = 2_000,
    private readonly maxEntries = 50_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The session, loading it with one query when it is not cached or is stale; null for no such session. */
  async load(db: Database, sessionId: string): Promise<SessionState | null> {
    const entry = this.entries.get(sessionId);
    if (entry && entry.until > this.now()) return entry.state;
    const [row] = await db
      .select({ userId: sessions.userId, orgId: sessions.orgId, revokedAt: sessions.revokedAt })
      .from(sessions)
      .where(eq(sessions.id, sessionId));
    const state = row ? { userId: row.userId, orgId: row.orgId, revoked: row.revokedAt !== null } : null;
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(sessionId, { state, until: this.now() + this.ttlMs });
    return state;
  }

  invalidate(sessionId: string): void {
    this.entries.delete(sessionId);
  }

  /** After revoking every session of a user (password change, removal from an org). */
  invalidateUser(userId: string): void {
    for (const [id, entry] of this.entries) {
      if (entry.state?.userId === userId) this.entries.delete(id);
    }
  }
}
