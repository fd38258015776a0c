import { sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { ledgerEntries } from '../../db/schema.js';

/** A transaction handle: ledger entries are written in the same transaction as the facts they bill. */
export type Tx = Parameters<Parameters<Database['transaction']>[0]>[0];

export type LedgerEntry = typeof ledgerEntries.$inferInsert;

// 9 values a row: 100 rows stay under SQLite's oldest bound-parameter limit (999).
const CHUNK = 100;

/**
 * Appends entries to the ledger. An id seen before is skipped, never updated: every id is derived from its
 * source fact, so a replayed source adds nothing and the ledger stays append-only.
 */
export async function appendLedgerEntries(tx: Tx | Database, entries: readonly LedgerEntry[]): Promise<void> {
  for (let i = 0; i < entries.length; i += CHUNK) {
    await tx
      .insert(ledgerEntries)
      .values(entries.slice(i, i + CHUNK))
      .onConflictDoNothing({ target: ledgerEntries.id });
  }
}

/**
 * One ledger entry per stored record of an edge batch, inside the batch's transaction: `edge:<batchId>:<idx>`,
 * the record's calls on `inference_calls`, billed in the UTC hour of its minute. Done in SQL from the rows
 * just stored, which halves the cost of ingesting a batch against building the entries here.
 */
export async function appendEdgeEntries(tx: Tx, batchId: string): Promise<void> {
  await tx.run(sql`
    insert into ledger_entries
      (id, org_id, meter, quantity, window_start, occurred_at, source, deployment_id, notebook_id)
    select 'edge:' || batch_id || ':' || idx, org_id, 'inference_calls', calls,
      minute - minute % 3600000, minute, 'edge', deployment_id, null
    from edge_usage where batch_id = ${batchId}
    on conflict (id) do nothing`);
}
