import { lt, sql } from 'drizzle-orm';
import { usageIdempotencyKeys } from '../../db/schema.js';
import type { Tx } from '../billing/ledger.js';

/** How long a billed Idempotency-Key is remembered: a retry later than this bills as a new call. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;
// Expired keys deleted per batch stored: pruning keeps pace with arrivals without one long delete.
const PRUNE_PER_BATCH = 1000;
// Rows per insert: 4 values each, well under SQLite's oldest bound-parameter limit (999).
const CHUNK = 200;

/**
 * The rows of a batch that bill: every row without an Idempotency-Key, and each keyed row whose (org, key)
 * no earlier batch, and no earlier row of this one, has billed. Their keys are remembered in the same
 * transaction as the rows are stored, so a key is billed exactly once however the retries race.
 * `keys[i]` is row i's key, if any.
 */
export async function firstBilled<Row extends { orgId: string }>(
  tx: Tx,
  batchId: string,
  rows: readonly Row[],
  keys: readonly (string | undefined)[],
  now: Date,
): Promise<Row[]> {
  if (keys.every((k) => k === undefined)) return [...rows];
  await tx
    .delete(usageIdempotencyKeys)
    .where(
      sql`rowid in (select rowid from ${usageIdempotencyKeys} where ${lt(
        usageIdempotencyKeys.billedAt,
        new Date(now.getTime() - IDEMPOTENCY_WINDOW_MS),
      )} limit ${PRUNE_PER_BATCH})`,
    );
  // First row per (org, key) within the batch; the table then decides against earlier batches.
  const firstInBatch = new Map<string, number>();
  rows.forEach((row, i) => {
    const key = keys[i];
    if (key === undefined) return;
    const id = JSON.stringify([row.orgId, key]);
    if (!firstInBatch.has(id)) firstInBatch.set(id, i);
  });
  const candidates = [...firstInBatch.values()];
  const fresh = new Set<string>();
  for (let i = 0; i < candidates.length; i += CHUNK) {
    const values = candidates.slice(i, i + CHUNK).map((idx) => ({
      orgId: (rows[idx] as Row).orgId,
      idempotencyKey: keys[idx] as string,
      batchId,
      billedAt: now,
    }));
    const inserted = await tx
      .insert(usageIdempotencyKeys)
      .values(values)
      .onConflictDoNothing()
      .returning({ orgId: usageIdempotencyKeys.orgId, key: usageIdempotencyKeys.idempotencyKey });
    for (const r of inserted) fresh.add(JSON.stringify([r.orgId, r.key]));
  }
  return rows.filter((row, i) => {
    const key = keys[i];
    if (key === undefined) return true;
    const id = JSON.stringify([row.orgId, key]);
    return firstInBatch.get(id) === i && fresh.has(id);
  });
}
