import { and, eq, isNull } from 'drizzle-orm';
import { memberships, refreshTokens } from '../../db/schema.js';
import { unauthenticated } from '../../errors.js';
import { sha256Hex } from '../../lib/secrets.js';
import { type AuthDeps, issueSession, revokeSession } from './sessions.js';

/**
 * Spends a refresh token for a new pair in the same session. A token presented twice means it was copied:
 * the whole session is revoked, access tokens included, so both the thief and the owner must log in again.
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
    await revokeSession(deps, row.familyId, 'refresh_reuse');
    throw unauthenticated('The refresh token was already used; every session of this login is revoked');
  }
  const [membership] = await deps.db
    .select({ id: memberships.id })
    .from(memberships)
    .where(and(eq(memberships.userId, row.userId), eq(memberships.orgId, row.orgId)));
  if (!membership) {
    await revokeSession(deps, row.familyId, 'not_a_member');
    throw unauthenticated('You are no longer a member of this organisation');
  }
  return issueSession(deps, row.userId, row.orgId, row.familyId);
}

/**
 * Ends the session a refresh token belongs to, or the session of the access token that calls (`sessionId`).
 * Unknown tokens are ignored: logout always succeeds.
 */
export async function logout(
  deps: AuthDeps,
  from: { refreshToken?: string; sessionId?: string },
): Promise<void> {
  if (from.sessionId) await revokeSession(deps, from.sessionId, 'logout');
  if (!from.refreshToken) return;
  const [row] = await deps.db
    .select({ familyId: refreshTokens.familyId })
    .from(refreshTokens)
    .where(eq(refreshTokens.tokenHash, sha256Hex(from.refreshToken)));
  if (row && row.familyId !== from.sessionId) await revokeSession(deps, row.familyId, 'logout');
}
