import { index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

// What the edge reports: prediction usage, in batches sealed by one edge counter.
// No foreign key to orgs on purpose: usage is a fact even for an org that is gone; billing decides.

/** One row per batch ever stored; its primary key is what makes a replayed batch a no-op. */
export const edgeUsageBatches = sqliteTable('edge_usage_batches', {
  batchId: text('batch_id').primaryKey(),
  receivedAt: integer('received_at', { mode: 'timestamp_ms' }).notNull(),
  recordCount: integer('record_count').notNull(),
});

/**
 * Successful prediction calls of one (org, caller, deployment, minute) as the edge counted them, keyed
 * (batch, index) so billing derives a deterministic event id `<batchId>:<idx>` for each row.
 */
export const edgeUsage = sqliteTable(
  'edge_usage',
  {
    batchId: text('batch_id')
      .notNull()
      .references(() => edgeUsageBatches.batchId),
    idx: integer('idx').notNull(),
    orgId: text('org_id').notNull(),
    keyId: text('key_id'),
    userId: text('user_id'),
    deploymentId: text('deployment_id').notNull(),
    /** Start of the UTC minute the calls fell in. */
    minute: integer('minute', { mode: 'timestamp_ms' }).notNull(),
    calls: integer('calls').notNull(),
    bytesIn: integer('bytes_in').notNull(),
    bytesOut: integer('bytes_out').notNull(),
  },
  (t) => [primaryKey({ columns: [t.batchId, t.idx] }), index('edge_usage_org_minute').on(t.orgId, t.minute)],
);

/**
 * The Idempotency-Keys whose call has been billed, per org: a usage record naming a key already here is a
 * retry of a billed call and is not stored again. Kept for IDEMPOTENCY_WINDOW_MS after `billedAt` (pruned a
 * bounded number at a time as batches arrive); a key reused after that bills as a new call.
 */
export const usageIdempotencyKeys = sqliteTable(
  'usage_idempotency_keys',
  {
    orgId: text('org_id').notNull(),
    idempotencyKey: text('idempotency_key').notNull(),
    /** The batch that billed it, for an operator tracing a charge. */
    batchId: text('batch_id').notNull(),
    billedAt: integer('billed_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.idempotencyKey] }),
    index('usage_idempotency_keys_billed_at').on(t.billedAt),
  ],
);
