import type { AgentRuntime, AgentStatus, GpuType, HostInventory, UsageEntry } from '@meridian/protocol';
import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, real, sqliteTable, text } from 'drizzle-orm/sqlite-core';

// Agents are platform-owned, not tenant-owned: no table here carries org_id.

const createdAt = () =>
  integer('created_at', { mode: 'timestamp_ms' }).notNull().default(sql`(unixepoch('subsec') * 1000)`);

/** One-time tokens an operator issues so that a new host can register; only the hash is kept. */
export const bootstrapTokens = sqliteTable('bootstrap_tokens', {
  id: text('id').primaryKey(),
  tokenHash: text('token_hash').notNull().unique(),
  /** Who issued it: `operator` for the operator credential. */
  createdBy: text('created_by').notNull(),
  expiresAt: integer('expires_at', { mode: 'timestamp_ms' }).notNull(),
  usedAt: integer('used_at', { mode: 'timestamp_ms' }),
  usedByAgent: text('used_by_agent'),
  createdAt: createdAt(),
});

/** A registered gpu-agent host, authenticated by its own credential (stored hashed). */
export const agents = sqliteTable('agents', {
  id: text('id').primaryKey(),
  credentialHash: text('credential_hash').notNull().unique(),
  hostname: text('hostname').notNull(),
  agentVersion: text('agent_version').notNull(),
  dataPlaneUrl: text('data_plane_url').notNull(),
  runtimes: text('runtimes', { mode: 'json' }).$type<AgentRuntime[]>().notNull(),
  status: text('status', { enum: ['online', 'lost', 'draining'] })
    .$type<AgentStatus>()
    .notNull()
    .default('online'),
  inventory: text('inventory', { mode: 'json' }).$type<HostInventory>().notNull(),
  /** Bumped whenever what this agent should run changes; long polls compare against it. */
  desiredVersion: integer('desired_version').notNull().default(1),
  /** Highest usage seq counted; a report at or below it is a retry and counts nothing. */
  lastUsageSeq: integer('last_usage_seq').notNull().default(0),
  /**
   * Generation of the agent's data-plane key, HMAC-SHA256(platform key, `agent-data-plane:<id>:<generation>`):
   * the edge derives the key from it (routing snapshot), the agent receives it; a rotation bumps it.
   */
  dataPlaneKeyGeneration: integer('data_plane_key_generation').notNull().default(1),
  lastHeartbeatAt: integer('last_heartbeat_at', { mode: 'timestamp_ms' }).notNull(),
  createdAt: createdAt(),
});

/** The latest phase of each workload as its agent last reported it. */
export const agentWorkloadReports = sqliteTable(
  'agent_workload_reports',
  {
    agentId: text('agent_id')
      .notNull()
      .references(() => agents.id, { onDelete: 'cascade' }),
    workloadId: text('workload_id').notNull(),
    kind: text('kind', { enum: ['model', 'notebook'] }).notNull(),
    phase: text('phase', { enum: ['pending', 'pulling', 'loading', 'ready', 'failed', 'stopped'] }).notNull(),
    reason: text('reason'),
    startedAt: integer('started_at', { mode: 'timestamp_ms' }),
    /** Where a notebook server answers on its host, and its own last-activity record. */
    endpoint: text('endpoint'),
    lastActivityAt: integer('last_activity_at', { mode: 'timestamp_ms' }),
    updatedAt: integer('updated_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.agentId, t.workloadId] }),
    index('agent_workloads_workload').on(t.workloadId),
  ],
);

/** Usage reports as received, one per (agent, seq): the unique key is what makes a retry count once. */
export const agentUsageReports = sqliteTable(
  'agent_usage_reports',
  {
    agentId: text('agent_id')
      .notNull()
      .references(() => agents.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    entries: text('entries', { mode: 'json' }).$type<UsageEntry[]>().notNull(),
    receivedAt: integer('received_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.agentId, t.seq] })],
);

/** One row per usage entry, keyed (agent, seq, index) so billing can derive deterministic event ids. */
export const agentUsageEntries = sqliteTable(
  'agent_usage_entries',
  {
    agentId: text('agent_id').notNull(),
    seq: integer('seq').notNull(),
    idx: integer('idx').notNull(),
    workloadId: text('workload_id').notNull(),
    gpuType: text('gpu_type', { enum: ['t4', 'v100', 'rtx4090', 'cpu'] })
      .$type<GpuType>()
      .notNull(),
    seconds: real('seconds').notNull(),
    fromAt: integer('from_at', { mode: 'timestamp_ms' }).notNull(),
    toAt: integer('to_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.agentId, t.seq, t.idx] }),
    index('agent_usage_entries_workload').on(t.workloadId, t.toAt),
  ],
);

/**
 * Every deployment an agent has been told to serve (recorded when its desired state names it), kept after
 * the replica is gone: an agent bills prediction calls only for deployments placed on it, and its last calls
 * of a replica may be reported after the scheduler removed it.
 */
export const agentDeployments = sqliteTable(
  'agent_deployments',
  {
    agentId: text('agent_id')
      .notNull()
      .references(() => agents.id, { onDelete: 'cascade' }),
    deploymentId: text('deployment_id').notNull(),
    orgId: text('org_id').notNull(),
    firstPlacedAt: integer('first_placed_at', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.agentId, t.deploymentId] })],
);
