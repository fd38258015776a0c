import { and, eq, inArray, isNull } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { apiKeys } from '../../db/schema.js';

type Tx = Parameters<Parameters<Database['transaction']>[0]>[0];

/** Keys one member made in an org can themselves make keys; this many generations are followed. */
const MAX_GENERATIONS = 10;

/**
 * Unrevoked keys of `orgId` that `userId` made, directly or through keys they made (a key with
 * `api_keys:manage` makes keys too), so revoking or capping them leaves nothing behind.
 */
export async function keysMadeBy(db: Database | Tx, orgId: string, userId: string) {
  const found: (typeof apiKeys.$inferSelect)[] = [];
  let makers = [userId];
  for (let generation = 0; generation < MAX_GENERATIONS && makers.length > 0; generation++) {
    const rows = await db
      .select()
      .from(apiKeys)
      .where(and(eq(apiKeys.orgId, orgId), inArray(apiKeys.createdById, makers), isNull(apiKeys.revokedAt)));
    found.push(...rows);
    makers = rows.map((r) => r.id);
  }
  return found;
}
