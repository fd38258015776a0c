import { and, eq, isNull } from 'drizzle-orm';
import { memberships, refreshTokens } from '../../db/schema.js';
import { unauthenticated } from '../../errors.js';
import { sha256Hex } from '../../lib/secrets.js';
import { type AuthDeps, issueSession, revokeFamily } from './sessions.js';

/**
 * Spends a refresh token for a new pair in the same family. A token presented twice means it was copied:
 * the whole family is revoked, so both the thief and the owner must log in again.
 */
export async function refreshSession(deps: AuthDeps, refreshToken: string) {
  const [row] = await deps.db
    .select()
    .from(refreshTokens)
    .where(eq(refreshTokens.tokenHash, sha256Hex(refreshToken)));
  if (!row || row.revokedAt) throw unauthenticated('The refresh token is invalid or revoked');
  if (row.expiresAt.getTime() <= Date.now()) throw unauthenticated('The refresh token has expired');
  // The conditional update makes spending atomic: of two concurrent uses, only one wins.
  const spent = await deps.db
    .update(refreshTokens)
    .set({ usedAt: new Date() })
    .where(and(eq(refreshTokens.id, row.id), isNull(refreshTokens.usedAt)))
    .returning({ id: refreshTokens.id });
  if (spent.length === 0) {
    await revokeFamily(deps.db, row.familyId);
    throw unauthenticated('The refresh token was already used; every session of this login is revoked');
  }
  const [membership] = await deps.db
    .select({ id: memberships.id })
    .from(memberships)
    .where(and(eq(memberships.userId, row.userId), eq(memberships.orgId, row.orgId)));
  if (!membership) {
    await revokeFamily(deps.db, row.familyId);
    throw unauthenticated('You are no longer a member of this organisation');
  }
  return issueSession(deps, row.userId, row.orgId, row.familyId);
}

/** Revokes the login a refresh token belongs to. Unknown tokens are ignored: logout always succeeds. */
export async function logout(deps: AuthDeps, refreshToken: string): Promise<void> {
  const [row] = await deps.db
    .select({ familyId: refreshTokens.familyId })
    .from(refreshTokens)
    .where(eq(refreshTokens.tokenHash, sha256Hex(refreshToken)));
  if (row) await revokeFamily(deps.db, row.familyId);
}
