import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

// Stored files and the asynchronous batch jobs that run over them (issue 16).

const createdAt = () =>
  integer('created_at', { mode: 'timestamp_ms' }).notNull().default(sql`(unixepoch('subsec') * 1000)`);

export const FILE_PURPOSES = ['batch', 'batch_output', 'batch_error'] as const;
export type FilePurpose = (typeof FILE_PURPOSES)[number];

/** A file in object storage: a batch input the org uploaded, or a job's output or error file. */
export const files = sqliteTable(
  'files',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull(),
    purpose: text('purpose', { enum: FILE_PURPOSES }).notNull(),
    fileName: text('file_name').notNull(),
    objectKey: text('object_key').notNull(),
    /** Null while the upload streams; set once the object is stored. */
    sizeBytes: integer('size_bytes'),
    sha256: text('sha256'),
    status: text('status', { enum: ['uploading', 'ready'] }).notNull(),
    /** The user or key that uploaded it, or the job that wrote it. */
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
    /** Past it the file is gone: 404, and the retention sweep deletes the object. */
    expiresAt: integer('expires_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [index('files_org').on(t.orgId, t.id), index('files_expiry').on(t.expiresAt)],
);

export const BATCH_STATUSES = [
  'validating',
  'running',
  'finalizing',
  'completed',
  'failed',
  'cancelling',
  'cancelled',
  'expired',
] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];

/** One batch job. Counts move only in the shard checkpoint's transaction, so they match the stored results. */
export const batchJobs = sqliteTable(
  'batch_jobs',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull(),
    deploymentId: text('deployment_id').notNull(),
    deploymentName: text('deployment_name').notNull(),
    inputFileId: text('input_file_id').notNull(),
    outputFileId: text('output_file_id'),
    errorFileId: text('error_file_id'),
    status: text('status', { enum: BATCH_STATUSES }).notNull(),
    /** Why it failed, stopped or is paused: `{code, message, faults?}`. */
    error: text('error', { mode: 'json' }).$type<BatchJobError>(),
    /** Set while the job waits (org suspended, no replica yet); cleared when it runs again. */
    pausedReason: text('paused_reason'),
    /** While it waits: why, in words (its deployment's start problem among them); null while it runs. */
    statusReason: text('status_reason'),
    /** Since when its deployment has been unplaceable without a break; past the runner's bound the job fails. */
    unplaceableSince: integer('unplaceable_since', { mode: 'timestamp_ms' }),
    completionWindowSeconds: integer('completion_window_seconds').notNull(),
    maxConcurrency: integer('max_concurrency').notNull(),
    /** The credential that created it: lines are billed to it, as its own calls at the edge would be. */
    keyId: text('key_id'),
    userId: text('user_id'),
    total: integer('total').notNull().default(0),
    completed: integer('completed').notNull().default(0),
    failed: integer('failed').notNull().default(0),
    /** While finalizing: the status it ends in (completed, failed, cancelled, expired). */
    outcome: text('outcome', { enum: BATCH_STATUSES }),
    createdAt: createdAt(),
    startedAt: integer('started_at', { mode: 'timestamp_ms' }),
    finalizingAt: integer('finalizing_at', { mode: 'timestamp_ms' }),
    endedAt: integer('ended_at', { mode: 'timestamp_ms' }),
    cancelRequestedAt: integer('cancel_requested_at', { mode: 'timestamp_ms' }),
    expiresAt: integer('expires_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [index('batch_jobs_org').on(t.orgId, t.id), index('batch_jobs_status').on(t.status)],
);

export type BatchJobError = {
  code: string;
  message: string;
  faults?: { line: number; message: string }[];
};

/** A run of consecutive input lines, read back by byte range; `done` once its results are committed. */
export const batchShards = sqliteTable(
  'batch_shards',
  {
    jobId: text('job_id').notNull(),
    shard: integer('shard').notNull(),
    firstLine: integer('first_line').notNull(),
    startByte: integer('start_byte').notNull(),
    /** Exclusive. */
    endByte: integer('end_byte').notNull(),
    done: integer('done', { mode: 'boolean' }).notNull().default(false),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.shard] })],
);

/**
 * One answered (or refused) input line. Written with its shard's checkpoint, read once into the output and
 * error files, then deleted. The primary key is what makes "each custom_id once" hold across restarts.
 */
export const batchResults = sqliteTable(
  'batch_results',
  {
    jobId: text('job_id').notNull(),
    line: integer('line').notNull(),
    ok: integer('ok', { mode: 'boolean' }).notNull(),
    /** The output or error JSONL line, as it is written to the file. */
    text: text('text').notNull(),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.line] })],
);
