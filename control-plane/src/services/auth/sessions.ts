import { newId } from '@meridian/protocol';
import { and, eq, isNull } from 'drizzle-orm';
import type { AccessTokens } from '../../auth/access-tokens.js';
import type { Database } from '../../db/client.js';
import { refreshTokens } from '../../db/schema.js';
import type { ScryptParams } from '../../lib/password.js';
import { randomSecret, sha256Hex } from '../../lib/secrets.js';

export interface AuthDeps {
  db: Database;
  accessTokens: AccessTokens;
  refreshTokenTtlSeconds: number;
  scrypt?: ScryptParams;
}

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  orgId: string;
}

/** Issues an access token and a refresh token; `familyId` continues a rotation chain, else a new login starts one. */
export async function issueSession(
  deps: AuthDeps,
  userId: string,
  orgId: string,
  familyId: string = newId('refreshFamily'),
): Promise<TokenPair> {
  const refreshToken = `mrt_${randomSecret(32)}`;
  await deps.db.insert(refreshTokens).values({
    id: newId('refreshToken'),
    familyId,
    userId,
    orgId,
    tokenHash: sha256Hex(refreshToken),
    expiresAt: new Date(Date.now() + deps.refreshTokenTtlSeconds * 1000),
  });
  const accessToken = await deps.accessTokens.sign({ userId, orgId, sessionId: familyId });
  return { accessToken, refreshToken, tokenType: 'Bearer', expiresIn: deps.accessTokens.ttl, orgId };
}

/** Ends every refresh token of a login, e.g. on reuse of a spent token or on logout. */
export async function revokeFamily(db: Database, familyId: string): Promise<void> {
  await db
    .update(refreshTokens)
    .set({ revokedAt: new Date() })
    .where(and(eq(refreshTokens.familyId, familyId), isNull(refreshTokens.revokedAt)));
}
