import { API_KEY_ENVIRONMENTS } from '@meridian/protocol';
import { eq } from 'drizzle-orm';
import type { AccessTokens } from '../auth/access-tokens.js';
import type { IdentityCache } from '../auth/identity-cache.js';
import type { Principal } from '../auth/principal.js';
import type { SessionCache } from '../auth/session-cache.js';
import type { Database } from '../db/client.js';
import { apiKeys } from '../db/schema.js';
import { sha256Hex } from '../lib/secrets.js';

const API_KEY_PATTERN = new RegExp(`^mk_(${API_KEY_ENVIRONMENTS.join('|')})_[A-Za-z0-9_-]{20,100}$`);
/** last_used_at is written at most this often per key, so using a key does not mean a write per call. */
const LAST_USED_RESOLUTION_MS = 60_000;

export function looksLikeApiKey(token: string): boolean {
  return token.startsWith('mk_');
}

/** What authenticating a bearer credential reads: tokens, and the caches of identities and sessions. */
export interface BearerAuthDeps {
  db: Database;
  accessTokens: AccessTokens;
  identities: IdentityCache;
  sessions: SessionCache;
}

/**
 * Resolves a bearer credential to a principal, or undefined. A user's role comes from the membership, not
 * the token, so a removed member's still-unexpired token stops working (IdentityCache states the bound),
 * and the token's session (`sid`) must not be revoked (SessionCache states the bound).
 */
export async function authenticateBearer(
  deps: BearerAuthDeps,
  token: string,
  now: Date = new Date(),
): Promise<Principal | undefined> {
  const { db } = deps;
  if (looksLikeApiKey(token)) return authenticateApiKey(db, token, now);
  const claims = await deps.accessTokens.verify(token);
  if (!claims) return undefined;
  const session = await deps.sessions.load(db, claims.sessionId);
  if (!session || session.revoked || session.userId !== claims.userId || session.orgId !== claims.orgId) {
    return undefined;
  }
  const identity = await deps.identities.load(db, claims.userId);
  const membership = identity?.memberships.find((m) => m.orgId === claims.orgId);
  if (!membership) return undefined;
  const { role } = membership;
  return { type: 'user', userId: claims.userId, orgId: claims.orgId, role, sessionId: claims.sessionId };
}

async function authenticateApiKey(db: Database, token: string, now: Date): Promise<Principal | undefined> {
  if (!API_KEY_PATTERN.test(token)) return undefined;
  const [key] = await db
    .select()
    .from(apiKeys)
    .where(eq(apiKeys.hash, sha256Hex(token)))
    .limit(1);
  if (!key || key.revokedAt || (key.expiresAt && key.expiresAt <= now)) return undefined;
  if (!key.lastUsedAt || now.getTime() - key.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
    await db.update(apiKeys).set({ lastUsedAt: now }).where(eq(apiKeys.id, key.id));
  }
  return { type: 'api_key', keyId: key.id, orgId: key.orgId, scopes: key.scopes, roleCap: key.roleCap };
}
