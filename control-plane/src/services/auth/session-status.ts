import type { SessionStatus } from '@meridian/protocol';
import { and, eq, isNull, max } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { memberships, refreshTokens, sessions } from '../../db/schema.js';

/**
 * What the edge must know about a session: active only while it is not revoked and its user is still a
 * member of its org, so a removal is learnt even if it raced the revocation.
 */
export async function sessionStatus(db: Database, sessionId: string): Promise<SessionStatus> {
  const [row] = await db
    .select({
      userId: sessions.userId,
      orgId: sessions.orgId,
      revokedAt: sessions.revokedAt,
      membership: memberships.id,
    })
    .from(sessions)
    .leftJoin(
      memberships,
      and(eq(memberships.userId, sessions.userId), eq(memberships.orgId, sessions.orgId)),
    )
    .where(eq(sessions.id, sessionId));
  if (!row) return { status: 'unknown' };
  if (row.revokedAt || !row.membership) return { status: 'revoked' };
  // The login lasts as long as its newest refresh token can still be spent (each refresh extends it).
  const [latest] = await db
    .select({ expiresAt: max(refreshTokens.expiresAt) })
    .from(refreshTokens)
    .where(and(eq(refreshTokens.familyId, sessionId), isNull(refreshTokens.revokedAt)));
  const expiresAt = latest?.expiresAt ? new Date(latest.expiresAt).toISOString() : null;
  return { status: 'active', sessionId, userId: row.userId, orgId: row.orgId, expiresAt };
}
