import { PLANS } from '@meridian/protocol';
import { sql } from 'drizzle-orm';
import { index, integer, real, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

const createdAt = () =>
  integer('created_at', { mode: 'timestamp_ms' }).notNull().default(sql`(unixepoch('subsec') * 1000)`);

export const ROLES = ['owner', 'admin', 'member', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export const users = sqliteTable('users', {
  id: text('id').primaryKey(),
  /** Stored lower-cased so uniqueness ignores case. */
  email: text('email').notNull().unique(),
  name: text('name').notNull(),
  passwordHash: text('password_hash').notNull(),
  createdAt: createdAt(),
});

export const orgs = sqliteTable('orgs', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  personal: integer('personal', { mode: 'boolean' }).notNull().default(false),
  /** The billing plan; the edge enforces its monthly call quota. */
  plan: text('plan', { enum: PLANS }).notNull().default('free'),
  /** Set while the org is suspended (e.g. a failed payment): the edge answers 402 to its predictions. */
  suspendedAt: integer('suspended_at', { mode: 'timestamp_ms' }),
  suspendedReason: text('suspended_reason'),
  createdAt: createdAt(),
});

export const memberships = sqliteTable(
  'memberships',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id')
      .notNull()
      .references(() => orgs.id, { onDelete: 'cascade' }),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    role: text('role', { enum: ROLES }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('memberships_org_user').on(t.orgId, t.userId), index('memberships_user').on(t.userId)],
);

export const INVITATION_STATUSES = ['pending', 'accepted', 'declined', 'revoked', 'replaced'] as const;
export type InvitationStatus = (typeof INVITATION_STATUSES)[number];

/**
 * An offer of membership, which only the person at `email` can take: nobody joins an org without consenting.
 * The token the e-mail carries is stored as its SHA-256 only. A pending row past `expiresAt` is expired.
 */
export const invitations = sqliteTable(
  'invitations',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id')
      .notNull()
      .references(() => orgs.id, { onDelete: 'cascade' }),
    /** Lower-cased, as users.email is; the account need not exist yet. */
    email: text('email').notNull(),
    role: text('role', { enum: ROLES }).notNull(),
    tokenHash: text('token_hash').notNull().unique(),
    status: text('status', { enum: INVITATION_STATUSES }).notNull().default('pending'),
    /** Who invited: a user's or key's id, and their e-mail or key name as it read then (they may leave). */
    invitedById: text('invited_by_id').notNull(),
    invitedByName: text('invited_by_name').notNull(),
    /**
     * The person accountable for it: the inviting user, or the user who made the inviting key (through keys that
     * made keys). What one person sends in a day is bounded by it, across all their orgs.
     */
    senderUserId: text('sender_user_id'),
    createdAt: createdAt(),
    expiresAt: integer('expires_at', { mode: 'timestamp_ms' }).notNull(),
    /** When it stopped being pending (accepted, declined, revoked or replaced). */
    closedAt: integer('closed_at', { mode: 'timestamp_ms' }),
  },
  (t) => [
    // One pending invitation per address and org: a second invitation replaces the first.
    uniqueIndex('invitations_org_email_pending').on(t.orgId, t.email).where(sql`status = 'pending'`),
    index('invitations_org_status').on(t.orgId, t.status),
    index('invitations_email_status').on(t.email, t.status),
    // What one person sent in the last day, across orgs.
    index('invitations_sender').on(t.senderUserId, t.createdAt),
  ],
);

/** Asymmetric keys that sign access tokens. Retired keys stay published until their tokens have expired. */
export const signingKeys = sqliteTable('signing_keys', {
  kid: text('kid').primaryKey(),
  alg: text('alg').notNull(),
  publicJwk: text('public_jwk').notNull(),
  /**
   * The private JWK sealed with the key-encryption key (`kek1:<kek id>:<iv>:<ciphertext+tag>`, AES-256-GCM
   * bound to the kid): a copy of the database alone cannot sign. Plain JSON only in rows written before
   * sealing existed; SigningKeyStore seals them on start.
   */
  privateJwk: text('private_jwk').notNull(),
  createdAt: createdAt(),
  retiredAt: integer('retired_at', { mode: 'timestamp_ms' }),
});

/** Rotating refresh tokens; one family per login. Reusing a spent token revokes its whole family. */
export const refreshTokens = sqliteTable(
  'refresh_tokens',
  {
    id: text('id').primaryKey(),
    familyId: text('family_id').notNull(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    orgId: text('org_id').notNull(),
    tokenHash: text('token_hash').notNull().unique(),
    expiresAt: integer('expires_at', { mode: 'timestamp_ms' }).notNull(),
    usedAt: integer('used_at', { mode: 'timestamp_ms' }),
    revokedAt: integer('revoked_at', { mode: 'timestamp_ms' }),
    createdAt: createdAt(),
  },
  (t) => [index('refresh_tokens_family').on(t.familyId)],
);

/**
 * One login: the refresh-token family and the `sid` of every access token issued in it. Revoking it (logout,
 * refresh-token reuse, password change, removal from the org) refuses its access tokens at once here and at
 * the edge within the key-revocation bound.
 */
export const sessions = sqliteTable(
  'sessions',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    orgId: text('org_id').notNull(),
    createdAt: createdAt(),
    revokedAt: integer('revoked_at', { mode: 'timestamp_ms' }),
    revokedReason: text('revoked_reason'),
  },
  (t) => [index('sessions_user').on(t.userId)],
);

/**
 * Attempt counters (login per account and address pair, per account, per address; registration per address),
 * in the database so every instance sees them. An attempt is counted before the password is checked.
 * `locked_until`: no counted attempt before this time (the exponential delay, or a full lock).
 */
export const loginThrottle = sqliteTable('login_throttle', {
  key: text('key').primaryKey(),
  failures: integer('failures').notNull(),
  windowStartedAt: integer('window_started_at', { mode: 'timestamp_ms' }).notNull(),
  lockedUntil: integer('locked_until', { mode: 'timestamp_ms' }),
});

export const apiKeys = sqliteTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id')
      .notNull()
      .references(() => orgs.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    environment: text('environment', { enum: ['live', 'test'] }).notNull(),
    /** The first characters of the plaintext, shown in listings so people can tell keys apart. */
    start: text('start').notNull(),
    hash: text('hash').notNull().unique(),
    scopes: text('scopes', { mode: 'json' }).$type<string[]>().notNull(),
    rateLimits: text('rate_limits', { mode: 'json' })
      .$type<{ name: string; limit: number; periodSeconds: number }[]>()
      .notNull(),
    expiresAt: integer('expires_at', { mode: 'timestamp_ms' }),
    revokedAt: integer('revoked_at', { mode: 'timestamp_ms' }),
    lastUsedAt: integer('last_used_at', { mode: 'timestamp_ms' }),
    createdByType: text('created_by_type', { enum: ['user', 'api_key'] }).notNull(),
    createdById: text('created_by_id').notNull(),
    /** The role of whoever made the key (lowered with theirs): the key never does more than that role may. */
    roleCap: text('role_cap', { enum: ROLES }).notNull().default('admin'),
    createdAt: createdAt(),
  },
  (t) => [index('api_keys_org').on(t.orgId), index('api_keys_created_by').on(t.createdById)],
);

export const auditLog = sqliteTable(
  'audit_log',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull(),
    actorType: text('actor_type', { enum: ['user', 'api_key'] }).notNull(),
    actorId: text('actor_id').notNull(),
    action: text('action').notNull(),
    targetType: text('target_type').notNull(),
    targetId: text('target_id').notNull(),
    requestId: text('request_id').notNull(),
    clientIp: text('client_ip'),
    metadata: text('metadata', { mode: 'json' }).$type<Record<string, unknown>>(),
    createdAt: createdAt(),
  },
  (t) => [index('audit_log_org_id').on(t.orgId, t.id)],
);

// ---- Model registry ----

export const MODEL_FORMATS = ['onnx', 'sklearn', 'pytorch', 'tensorflow', 'keras'] as const;
export type ModelFormat = (typeof MODEL_FORMATS)[number];

export const models = sqliteTable(
  'models',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id')
      .notNull()
      .references(() => orgs.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    tags: text('tags', { mode: 'json' }).$type<Record<string, string>>().notNull(),
    /**
     * The lowest number a new version may take: one past the highest version that was ever ready, so a deleted
     * version's number is never reused. A new version takes this or one past the highest it has, whichever is
     * more, so a refused upload (its row removed) leaves no gap. Not bumped when an upload starts.
     */
    nextVersion: integer('next_version').notNull().default(1),
    createdAt: createdAt(),
    updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [uniqueIndex('models_org_name').on(t.orgId, t.name)],
);

export const VERSION_STATUSES = ['uploading', 'ready', 'failed'] as const;

/** Immutable once ready: the object, its digest and signature never change. */
export const modelVersions = sqliteTable(
  'model_versions',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull(),
    modelId: text('model_id')
      .notNull()
      .references(() => models.id, { onDelete: 'cascade' }),
    version: integer('version').notNull(),
    status: text('status', { enum: VERSION_STATUSES }).notNull(),
    format: text('format', { enum: MODEL_FORMATS }).notNull(),
    /** `onnx` runs in the agent's onnx runtime; everything else needs a container image. */
    runtime: text('runtime', { enum: ['onnx', 'container'] }).notNull(),
    objectKey: text('object_key').notNull(),
    fileName: text('file_name').notNull(),
    sizeBytes: integer('size_bytes'),
    sha256: text('sha256'),
    /** ONNX only: inputs/outputs with datatypes and shapes (-1 or a name for dynamic dims), opset. */
    signature: text('signature', { mode: 'json' }).$type<Record<string, unknown>>(),
    description: text('description').notNull().default(''),
    tags: text('tags', { mode: 'json' }).$type<Record<string, string>>().notNull(),
    metadata: text('metadata', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    runId: text('run_id'),
    /** Presigned multipart upload in progress (S3 upload id), cleared when completed. */
    uploadId: text('upload_id'),
    /** The part count a multipart upload was started with; resuming must ask for the same. Null otherwise. */
    partCount: integer('part_count'),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('model_versions_model_version').on(t.modelId, t.version),
    index('model_versions_org').on(t.orgId),
    index('model_versions_run').on(t.runId),
  ],
);

export const modelAliases = sqliteTable(
  'model_aliases',
  {
    orgId: text('org_id').notNull(),
    modelId: text('model_id')
      .notNull()
      .references(() => models.id, { onDelete: 'cascade' }),
    alias: text('alias').notNull(),
    versionId: text('version_id')
      .notNull()
      .references(() => modelVersions.id, { onDelete: 'restrict' }),
    updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [uniqueIndex('model_aliases_model_alias').on(t.modelId, t.alias)],
);

// ---- Experiment tracking ----

export const experiments = sqliteTable(
  'experiments',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id')
      .notNull()
      .references(() => orgs.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    tags: text('tags', { mode: 'json' }).$type<Record<string, string>>().notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('experiments_org_name').on(t.orgId, t.name)],
);

export const RUN_STATUSES = ['running', 'finished', 'failed', 'killed'] as const;

export const runs = sqliteTable(
  'runs',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull(),
    experimentId: text('experiment_id')
      .notNull()
      .references(() => experiments.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    status: text('status', { enum: RUN_STATUSES }).notNull(),
    startedAt: integer('started_at', { mode: 'timestamp_ms' }).notNull(),
    endedAt: integer('ended_at', { mode: 'timestamp_ms' }),
    createdAt: createdAt(),
  },
  (t) => [index('runs_experiment').on(t.experimentId), index('runs_org').on(t.orgId)],
);

/** Params are immutable: the same value again is accepted, a different value is a conflict. */
export const runParams = sqliteTable(
  'run_params',
  {
    runId: text('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    value: text('value').notNull(),
  },
  (t) => [uniqueIndex('run_params_run_key').on(t.runId, t.key)],
);

export const runTags = sqliteTable(
  'run_tags',
  {
    runId: text('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    value: text('value').notNull(),
  },
  (t) => [uniqueIndex('run_tags_run_key').on(t.runId, t.key)],
);

/** Append-only metric histories. */
export const runMetrics = sqliteTable(
  'run_metrics',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    runId: text('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    value: real('value').notNull(),
    step: integer('step').notNull(),
    timestamp: integer('timestamp', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [index('run_metrics_run_key_step').on(t.runId, t.key, t.step)],
);

/**
 * Log-batch bodies sent with an Idempotency-Key: a client that sends one again (its answer was lost with the
 * connection) gets the first answer back instead of its points stored twice. `bodySha256` tells a resend
 * from another body under the same key.
 */
export const runLogBatches = sqliteTable(
  'run_log_batches',
  {
    runId: text('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    idempotencyKey: text('idempotency_key').notNull(),
    bodySha256: text('body_sha256').notNull(),
    metrics: integer('metrics').notNull(),
    params: integer('params').notNull(),
    tags: integer('tags').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('run_log_batches_run_key').on(t.runId, t.idempotencyKey)],
);

export const runArtifacts = sqliteTable(
  'run_artifacts',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull(),
    runId: text('run_id')
      .notNull()
      .references(() => runs.id, { onDelete: 'cascade' }),
    /** The user's relative path, for display only; the object key is built from ids. */
    path: text('path').notNull(),
    objectKey: text('object_key').notNull(),
    sizeBytes: integer('size_bytes').notNull(),
    sha256: text('sha256').notNull(),
    contentType: text('content_type').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('run_artifacts_run_path').on(t.runId, t.path)],
);

/** Bytes each org keeps in object storage (model versions + artifacts), kept current for billing. */
export const orgStorage = sqliteTable('org_storage', {
  orgId: text('org_id')
    .primaryKey()
    .references(() => orgs.id, { onDelete: 'cascade' }),
  modelBytes: integer('model_bytes').notNull().default(0),
  artifactBytes: integer('artifact_bytes').notNull().default(0),
  updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull(),
});

// Agent tables live beside this file so each stays readable; drizzle-kit follows the re-export.
export * from './schema-agents.js';
export * from './schema-batch.js';
export * from './schema-billing.js';
export * from './schema-edge.js';
export * from './schema-images.js';
export * from './schema-monitoring.js';
export * from './schema-rollouts.js';
export * from './schema-scheduling.js';
