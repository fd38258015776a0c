import { eq, sql } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { orgStorage } from '../db/schema.js';

/** A transaction handle: accounting moves in the same transaction as the rows it counts. */
type Tx = Parameters<Parameters<Database['transaction']>[0]>[0];

/** What an org keeps in object storage: model versions and run artifacts are billed alike. */
export type StoredKind = 'model' | 'artifact';

export interface StoredBytes {
  modelBytes: number;
  artifactBytes: number;
  totalBytes: number;
}

/**
 * Adds `delta` bytes (negative to give bytes back) of `kind` to the org's total, inside the caller's
 * transaction. A total never goes below zero, so a double subtraction cannot make billing negative.
 */
export async function addStoredBytes(tx: Tx, orgId: string, kind: StoredKind, delta: number): Promise<void> {
  if (delta === 0) return;
  const now = new Date();
  const column = kind === 'model' ? orgStorage.modelBytes : orgStorage.artifactBytes;
  const initial = Math.max(0, delta);
  await tx
    .insert(orgStorage)
    .values(
      kind === 'model'
        ? { orgId, modelBytes: initial, updatedAt: now }
        : { orgId, artifactBytes: initial, updatedAt: now },
    )
    .onConflictDoUpdate({
      target: orgStorage.orgId,
      set: {
        [kind === 'model' ? 'modelBytes' : 'artifactBytes']: sql`max(0, ${column} + ${delta})`,
        updatedAt: now,
      },
    });
}

/** The org's stored bytes as billing reads them; zeros for an org that never stored anything. */
export async function getStoredBytes(db: Pick<Database, 'select'>, orgId: string): Promise<StoredBytes> {
  const [row] = await db.select().from(orgStorage).where(eq(orgStorage.orgId, orgId));
  const modelBytes = row?.modelBytes ?? 0;
  const artifactBytes = row?.artifactBytes ?? 0;
  return { modelBytes, artifactBytes, totalBytes: modelBytes + artifactBytes };
}
