import type { GpuType, WorkloadPhase } from '@meridian/protocol';
import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import { models, modelVersions, orgs, users } from './schema.js';
import { agents } from './schema-agents.js';

// Deployments, notebooks and the workloads the scheduler places for them on agents.
// Users write intent (deployments, notebooks); the scheduler alone writes workloads, statuses and events.

const createdAt = () =>
  integer('created_at', { mode: 'timestamp_ms' }).notNull().default(sql`(unixepoch('subsec') * 1000)`);

/** `idle`: scaled to zero, no replica runs; the next call wakes it. */
export const DEPLOYMENT_STATUSES = [
  'pending',
  'scheduled',
  'pulling',
  'loading',
  'ready',
  'failed',
  'idle',
] as const;
export type DeploymentStatus = (typeof DEPLOYMENT_STATUSES)[number];
const GPU_TYPE_VALUES = ['t4', 'v100', 'rtx4090', 'cpu'] as const;

export type BatchingSettings = { maxBatchSize: number; maxQueueDelayMs: number };

/**
 * Why a deployment's current revision cannot start, as data (`statusReason` is the same in words): no host
 * fits its replicas (`unplaceable`, the scheduler's placement refusal), or its last start failed and none has
 * succeeded since (`failed`, the replica's reason; the next attempt at `retryAt`, ms). `message` names no
 * replica, agent or host path: batch jobs on the deployment repeat it to whoever may call it.
 */
export type StartProblem = { kind: 'unplaceable' | 'failed'; message: string; retryAt?: number };

/** A model served by `minReplicas` replicas; `revision` names the model version it should serve now. */
export const deployments = sqliteTable(
  'deployments',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id')
      .notNull()
      .references(() => orgs.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    modelId: text('model_id')
      .notNull()
      .references(() => models.id, { onDelete: 'restrict' }),
    runtime: text('runtime', { enum: ['onnx', 'container'] }).notNull(),
    /** Model-server image for the container runtime. */
    image: text('image'),
    gpuType: text('gpu_type', { enum: GPU_TYPE_VALUES }).$type<GpuType>().notNull(),
    gpuCount: integer('gpu_count').notNull(),
    minReplicas: integer('min_replicas').notNull(),
    maxReplicas: integer('max_replicas').notNull(),
    /** In-flight requests per replica the autoscaler aims for. */
    targetConcurrency: integer('target_concurrency').notNull().default(16),
    /** How long more replicas must be wanted before they are added. */
    scaleUpDelaySeconds: integer('scale_up_delay_seconds').notNull().default(0),
    /** How long fewer replicas must be wanted before some are removed. */
    scaleDownDelaySeconds: integer('scale_down_delay_seconds').notNull().default(30),
    /** With minReplicas 0: seconds without calls before the last replica goes. Null: never to zero. */
    scaleToZeroAfterSeconds: integer('scale_to_zero_after_seconds'),
    /** How long the edge holds a call while no replica is ready (at zero, or starting) before a 503. */
    holdTimeoutSeconds: integer('hold_timeout_seconds').notNull().default(30),
    /** The replicas the autoscaler (or a wake) wants now, within min–max; the scheduler converges to it. */
    desiredReplicas: integer('desired_replicas').notNull().default(1),
    batching: text('batching', { mode: 'json' }).$type<BatchingSettings>(),
    deterministic: integer('deterministic', { mode: 'boolean' }).notNull().default(false),
    /** The revision every replica should serve; older revisions' replicas go once it is ready. */
    revision: integer('revision').notNull().default(1),
    status: text('status', { enum: DEPLOYMENT_STATUSES }).notNull().default('pending'),
    /** Why it is pending or failed, in words a person can act on. */
    statusReason: text('status_reason'),
    /** Why it cannot start, as data; null while it starts, serves or idles. Written with `status`. */
    startProblem: text('start_problem', { mode: 'json' }).$type<StartProblem>(),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
    updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [uniqueIndex('deployments_org_name').on(t.orgId, t.name), index('deployments_model').on(t.modelId)],
);

/** What each revision of a deployment serves: a version resolved once, when the revision was made. */
export const deploymentRevisions = sqliteTable(
  'deployment_revisions',
  {
    deploymentId: text('deployment_id')
      .notNull()
      .references(() => deployments.id, { onDelete: 'cascade' }),
    revision: integer('revision').notNull(),
    modelVersionId: text('model_version_id')
      .notNull()
      .references(() => modelVersions.id, { onDelete: 'restrict' }),
    /** What the caller asked for: `version:3` or `alias:production`. */
    requested: text('requested').notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.deploymentId, t.revision] })],
);

/** A deployment's history, newest last: status changes, placements, replicas lost, rollouts. */
export const deploymentEvents = sqliteTable(
  'deployment_events',
  {
    id: text('id').primaryKey(),
    deploymentId: text('deployment_id')
      .notNull()
      .references(() => deployments.id, { onDelete: 'cascade' }),
    orgId: text('org_id').notNull(),
    type: text('type').notNull(),
    message: text('message').notNull(),
    at: integer('at', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [index('deployment_events_deployment').on(t.deploymentId, t.id)],
);

export const NOTEBOOK_STATUSES = ['stopped', 'pending', 'starting', 'running', 'stopping', 'failed'] as const;
export type NotebookStatus = (typeof NOTEBOOK_STATUSES)[number];

/** A GPU Jupyter notebook; its files live in a volume named after it, kept across stop and start. */
export const notebooks = sqliteTable(
  'notebooks',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id')
      .notNull()
      .references(() => orgs.id, { onDelete: 'cascade' }),
    ownerId: text('owner_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    gpuType: text('gpu_type', { enum: GPU_TYPE_VALUES }).$type<GpuType>().notNull(),
    gpuCount: integer('gpu_count').notNull(),
    image: text('image').notNull(),
    idleTimeoutSeconds: integer('idle_timeout_seconds').notNull(),
    /** What the owner asked for; the scheduler moves `status` towards it. */
    desired: text('desired', { enum: ['running', 'stopped'] }).notNull(),
    status: text('status', { enum: NOTEBOOK_STATUSES }).notNull().default('pending'),
    statusReason: text('status_reason'),
    /** The notebook server's token; only the owner is ever shown it. */
    token: text('token').notNull(),
    /** Where the server answers on its agent while it runs (reported by the agent). */
    endpoint: text('endpoint'),
    /** The server's own last-activity record, as the agent last reported it. */
    lastActivityAt: integer('last_activity_at', { mode: 'timestamp_ms' }),
    createdAt: createdAt(),
    updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [uniqueIndex('notebooks_org_name').on(t.orgId, t.name)],
);

/**
 * One run of a notebook, from ready to stopped: the seconds billing charges. No foreign key on purpose: a
 * deleted notebook's sessions stay, because they were run and must still be billed.
 */
export const notebookSessions = sqliteTable(
  'notebook_sessions',
  {
    id: text('id').primaryKey(),
    notebookId: text('notebook_id').notNull(),
    orgId: text('org_id').notNull(),
    gpuType: text('gpu_type', { enum: GPU_TYPE_VALUES }).$type<GpuType>().notNull(),
    gpuCount: integer('gpu_count').notNull(),
    agentId: text('agent_id'),
    startedAt: integer('started_at', { mode: 'timestamp_ms' }).notNull(),
    endedAt: integer('ended_at', { mode: 'timestamp_ms' }),
    seconds: integer('seconds'),
    /** Why it ended: stopped, culled when idle, host lost. */
    endReason: text('end_reason'),
  },
  (t) => [index('notebook_sessions_notebook').on(t.notebookId, t.startedAt)],
);

/**
 * One unit of work on one agent: a deployment replica of one revision, or a notebook run. `agentId` null
 * means not placed yet (`pendingReason` says why). The agent's desired state is its workloads.
 */
export const workloads = sqliteTable(
  'workloads',
  {
    id: text('id').primaryKey(),
    kind: text('kind', { enum: ['model', 'notebook'] }).notNull(),
    orgId: text('org_id').notNull(),
    deploymentId: text('deployment_id').references(() => deployments.id, { onDelete: 'cascade' }),
    revision: integer('revision'),
    notebookId: text('notebook_id').references(() => notebooks.id, { onDelete: 'cascade' }),
    agentId: text('agent_id').references(() => agents.id, { onDelete: 'set null' }),
    gpuType: text('gpu_type', { enum: GPU_TYPE_VALUES }).$type<GpuType>().notNull(),
    gpuCount: integer('gpu_count').notNull(),
    /** Estimated needs, checked against the host's free GPU memory and disk when placing. */
    gpuMemoryMiB: integer('gpu_memory_mib').notNull().default(0),
    diskBytes: integer('disk_bytes').notNull().default(0),
    /** The phase the agent last reported; `pending` until placed and reported. */
    phase: text('phase', { enum: ['pending', 'pulling', 'loading', 'ready', 'failed', 'stopped'] })
      .$type<WorkloadPhase>()
      .notNull()
      .default('pending'),
    reason: text('reason'),
    pendingReason: text('pending_reason'),
    placedAt: integer('placed_at', { mode: 'timestamp_ms' }),
    /** When its agent was first seen pulling, loading (pulled), ready (loaded) and serving its first call. */
    pullingAt: integer('pulling_at', { mode: 'timestamp_ms' }),
    loadingAt: integer('loading_at', { mode: 'timestamp_ms' }),
    readyAt: integer('ready_at', { mode: 'timestamp_ms' }),
    firstCallAt: integer('first_call_at', { mode: 'timestamp_ms' }),
    /** 1 for a first start; a replica replacing a failed one counts on from it. */
    attempt: integer('attempt').notNull().default(1),
    /** When its agent reported it failed: a replacement follows after a backoff that grows with `attempt`. */
    failedAt: integer('failed_at', { mode: 'timestamp_ms' }),
    /** Agents earlier attempts failed on: placement prefers any other host that fits. */
    avoidAgents: text('avoid_agents', { mode: 'json' }).$type<string[]>(),
    /** Set when a replacement is ready: out of routing now, removed from the agent at this time. */
    retireAt: integer('retire_at', { mode: 'timestamp_ms' }),
    createdAt: createdAt(),
  },
  (t) => [
    index('workloads_agent').on(t.agentId),
    index('workloads_deployment').on(t.deploymentId, t.revision),
    index('workloads_notebook').on(t.notebookId),
  ],
);

/**
 * Replicas removed lately (scaled in, replaced, failed), kept so their lines stay readable from the agent that
 * ran them, which keeps them as long (MERIDIAN_ENDED_REPLICA_LOGS_SECONDS); the scheduler deletes older rows.
 * No reference to the agent: a removed agent leaves the row, shown as gone.
 */
export const endedReplicas = sqliteTable(
  'ended_replicas',
  {
    workloadId: text('workload_id').primaryKey(),
    deploymentId: text('deployment_id')
      .notNull()
      .references(() => deployments.id, { onDelete: 'cascade' }),
    agentId: text('agent_id').notNull(),
    endedAt: integer('ended_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [
    index('ended_replicas_deployment').on(t.deploymentId, t.endedAt),
    index('ended_replicas_ended').on(t.endedAt),
  ],
);

/** Leases in the database: only the holder of `scheduler` schedules; another instance takes over on expiry. */
export const leases = sqliteTable('leases', {
  name: text('name').primaryKey(),
  holder: text('holder').notNull(),
  expiresAt: integer('expires_at', { mode: 'timestamp_ms' }).notNull(),
});

/** The current routing snapshot (one row): the edge pulls it with `since`, the KV adapter mirrors it. */
export const routingSnapshots = sqliteTable('routing_snapshots', {
  id: integer('id').primaryKey(),
  version: integer('version').notNull(),
  document: text('document').notNull(),
  updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull(),
});
