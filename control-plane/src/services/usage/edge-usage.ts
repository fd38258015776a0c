import type { UsageBatch, UsageBatchAck } from '@meridian/protocol';
import { sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { edgeUsage, edgeUsageBatches } from '../../db/schema.js';
import { invalidField } from '../../errors.js';
import { appendEdgeEntries, type Tx } from '../billing/ledger.js';
import { firstBilled } from './idempotency-keys.js';

// Rows per insert statement: 10 values each stays under SQLite's oldest bound-parameter limit (999).
const CHUNK = 90;

/**
 * Stores an edge usage batch exactly once, in one transaction: the batch row and all its records, or
 * nothing. A batch id seen before (a retry, or two sends racing) inserts no batch row, so nothing else is
 * stored and the answer is `accepted: false`; what a replay carries is not compared, as a batch is sealed.
 * Records of orgs that do not exist are stored all the same: usage is a fact, and billing decides.
 * The same transaction appends one ledger entry per record (`edge:<batchId>:<idx>`), so the ledger holds a
 * batch exactly when its records are stored, and moves the API keys' last use on. Agents' prediction reports
 * are stored through here too (`agent:<agentId>:<seq>:<part>` batches), with the same billing effect.
 * A record with an Idempotency-Key is stored only the first time its org sends that key (within the window
 * of `firstBilled`): a call the caller retried after a cut connection, served twice, is billed once.
 */
export async function recordEdgeUsage(
  db: Database,
  batch: UsageBatch,
  now = new Date(),
): Promise<UsageBatchAck> {
  const rows = batch.records.map((r, idx) => ({
    batchId: batch.batchId,
    idx,
    orgId: r.orgId,
    keyId: r.keyId,
    userId: r.userId,
    deploymentId: r.deploymentId,
    minute: toMinute(r.minute, idx),
    calls: r.calls,
    bytesIn: r.bytesIn,
    bytesOut: r.bytesOut,
  }));
  const keys = batch.records.map((r) => r.idempotencyKey);
  return db.transaction(async (tx) => {
    const inserted = await tx
      .insert(edgeUsageBatches)
      .values({ batchId: batch.batchId, receivedAt: now, recordCount: rows.length })
      .onConflictDoNothing();
    if (inserted.rowsAffected === 0) return { batchId: batch.batchId, accepted: false };
    const billed = await firstBilled(tx, batch.batchId, rows, keys, now);
    for (let i = 0; i < billed.length; i += CHUNK) {
      await tx.insert(edgeUsage).values(billed.slice(i, i + CHUNK));
    }
    await appendEdgeEntries(tx, batch.batchId);
    await touchApiKeys(tx, batch.batchId);
    return { batchId: batch.batchId, accepted: true };
  });
}

/**
 * Moves each API key's `last_used_at` on to the latest minute the batch saw it call (minute precision), never
 * back: batches arrive late and out of order. So a key used only at the edge shows when it was last used.
 */
async function touchApiKeys(tx: Tx, batchId: string): Promise<void> {
  await tx.run(sql`
    update api_keys set last_used_at = used.at
    from (select key_id, max(minute) as at from edge_usage
          where batch_id = ${batchId} and key_id is not null group by key_id) as used
    where api_keys.id = used.key_id and (api_keys.last_used_at is null or api_keys.last_used_at < used.at)`);
}

/** The wire format has the shape of a minute; this refuses shapes that name no real one (`02-30`, `24:00`). */
function toMinute(minute: string, idx: number): Date {
  const at = new Date(minute);
  if (Number.isNaN(at.getTime()) || at.toISOString().slice(0, 16) !== minute.slice(0, 16)) {
    throw invalidField(`records.${idx}.minute`, 'not a real UTC minute');
  }
  return at;
}
