import type { ApiKeyResolution } from '@meridian/protocol';
import { eq } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { apiKeys } from '../../db/schema.js';

/** What the edge needs to authorise a call made with the key whose SHA-256 is `hash`. */
export async function resolveApiKeyHash(
  db: Database,
  hash: string,
  now = new Date(),
): Promise<ApiKeyResolution> {
  const [key] = await db.select().from(apiKeys).where(eq(apiKeys.hash, hash));
  if (!key) return { status: 'unknown' };
  if (key.revokedAt) return { status: 'revoked' };
  if (key.expiresAt && key.expiresAt <= now) return { status: 'expired' };
  return {
    status: 'active',
    keyId: key.id,
    orgId: key.orgId,
    environment: key.environment,
    scopes: key.scopes,
    rateLimits: key.rateLimits,
    expiresAt: key.expiresAt?.toISOString() ?? null,
  };
}
