import { newId } from '@meridian/protocol';
import type { Database } from '../../db/client.js';
import { bootstrapTokens } from '../../db/schema.js';
import { randomSecret, sha256Hex } from '../../lib/secrets.js';

export const BOOTSTRAP_TOKEN_PREFIX = 'mbt_';

/** Issues a one-time bootstrap token; the plaintext is returned here only, the table keeps its hash. */
export async function issueBootstrapToken(
  db: Database,
  input: { ttlSeconds: number; createdBy: string },
  now = new Date(),
) {
  const token = `${BOOTSTRAP_TOKEN_PREFIX}${randomSecret(32)}`;
  const row = {
    id: newId('bootstrapToken'),
    tokenHash: sha256Hex(token),
    createdBy: input.createdBy,
    expiresAt: new Date(now.getTime() + input.ttlSeconds * 1000),
  };
  await db.insert(bootstrapTokens).values(row);
  return { id: row.id, token, expiresAt: row.expiresAt.toISOString() };
}
