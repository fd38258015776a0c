import { newId } from '@meridian/protocol';
import { and, eq, isNull } from 'drizzle-orm';
import type { AccessTokens } from '../../auth/access-tokens.js';
import type { SessionCache } from '../../auth/session-cache.js';
import type { Database } from '../../db/client.js';
import { refreshTokens, sessions } from '../../db/schema.js';
import type { ScryptParams } from '../../lib/password.js';
import { randomSecret, sha256Hex } from '../../lib/secrets.js';
import type { PasswordWork } from './password-work.js';
import type { AuthThrottle } from './throttle.js';

export interface AuthDeps {
  db: Database;
  accessTokens: AccessTokens;
  refreshTokenTtlSeconds: number;
  /** Told of every revocation made here, so this instance refuses the session's tokens at once. */
  sessions: SessionCache;
  /** Bounded scrypt work (hashes and checks), with a counter of password checks. */
  passwords: PasswordWork;
  throttle: AuthThrottle;
  scrypt?: ScryptParams;
}

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  orgId: string;
}

/** Why a session ended; kept on the row for the operator. */
export type RevokeReason = 'logout' | 'refresh_reuse' | 'password_change' | 'member_removed' | 'not_a_member';

/**
 * Issues an access token and a refresh token. `sessionId` continues a session (refresh rotation); without
 * it a new session starts. The session id is the access token's `sid` and the refresh family's id.
 */
export async function issueSession(
  deps: AuthDeps,
  userId: string,
  orgId: string,
  sessionId?: string,
): Promise<TokenPair> {
  const sid = sessionId ?? newId('refreshFamily');
  const refreshToken = `mrt_${randomSecret(32)}`;
  await deps.db.transaction(async (tx) => {
    if (!sessionId) await tx.insert(sessions).values({ id: sid, userId, orgId });
    await tx.insert(refreshTokens).values({
      id: newId('refreshToken'),
      familyId: sid,
      userId,
      orgId,
      tokenHash: sha256Hex(refreshToken),
      expiresAt: new Date(Date.now() + deps.refreshTokenTtlSeconds * 1000),
    });
  });
  const accessToken = await deps.accessTokens.sign({ userId, orgId, sessionId: sid });
  return { accessToken, refreshToken, tokenType: 'Bearer', expiresIn: deps.accessTokens.ttl, orgId };
}

/** Ends one session: its refresh tokens stop rotating and its access tokens are refused. */
export async function revokeSession(
  deps: Pick<AuthDeps, 'db' | 'sessions'>,
  sessionId: string,
  reason: RevokeReason,
): Promise<void> {
  const now = new Date();
  await deps.db.transaction(async (tx) => {
    await tx
      .update(sessions)
      .set({ revokedAt: now, revokedReason: reason })
      .where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt)));
    await tx
      .update(refreshTokens)
      .set({ revokedAt: now })
      .where(and(eq(refreshTokens.familyId, sessionId), isNull(refreshTokens.revokedAt)));
  });
  deps.sessions.invalidate(sessionId);
}

/** Ends every session of a user, or only those naming `orgId` (removal from that org). */
export async function revokeUserSessions(
  deps: Pick<AuthDeps, 'db' | 'sessions'>,
  userId: string,
  reason: RevokeReason,
  orgId?: string,
): Promise<void> {
  const now = new Date();
  const inScope = (table: typeof sessions | typeof refreshTokens) =>
    and(eq(table.userId, userId), orgId ? eq(table.orgId, orgId) : undefined, isNull(table.revokedAt));
  await deps.db.transaction(async (tx) => {
    await tx.update(sessions).set({ revokedAt: now, revokedReason: reason }).where(inScope(sessions));
    await tx.update(refreshTokens).set({ revokedAt: now }).where(inScope(refreshTokens));
  });
  deps.sessions.invalidateUser(userId);
}
