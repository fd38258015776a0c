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
