import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, real, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { orgs } from './schema.js';

// Monitoring: per-deployment request metrics (minute rows for 48 h, hour rollups for 90 days), alert rules
// with their state, silences, notification channels with a delivery log, and drift sketches and scores.

const createdAt = () =>
  integer('created_at', { mode: 'timestamp_ms' }).notNull().default(sql`(unixepoch('subsec') * 1000)`);

export const METRIC_RESOLUTIONS = [60, 3600] as const;

/**
 * One (deployment, version, source, resolution, bucket) of request metrics. `versionId` is '' for calls
 * refused before a version was chosen. Histograms are stored compactly as comma-separated bucket counts (the
 * protocol's LATENCY_BUCKET_BOUNDS_MS), '' when empty; their sums in ms beside them.
 */
export const deploymentMetrics = sqliteTable(
  'deployment_metrics',
  {
    deploymentId: text('deployment_id').notNull(),
    versionId: text('version_id').notNull(),
    /** `edge`: what callers got, end to end; `agent`: queue and compute on the replicas. */
    source: text('source', { enum: ['edge', 'agent'] }).notNull(),
    /** Seconds per row: 60 (kept 48 h) or 3600 (kept 90 days). */
    resolution: integer('resolution').notNull(),
    /** Start of the bucket, epoch seconds. */
    at: integer('at').notNull(),
    orgId: text('org_id').notNull(),
    c1xx: integer('c1xx').notNull().default(0),
    c2xx: integer('c2xx').notNull().default(0),
    c3xx: integer('c3xx').notNull().default(0),
    c4xx: integer('c4xx').notNull().default(0),
    c5xx: integer('c5xx').notNull().default(0),
    latency: text('latency').notNull().default(''),
    latencySum: real('latency_sum').notNull().default(0),
    queue: text('queue').notNull().default(''),
    queueSum: real('queue_sum').notNull().default(0),
    compute: text('compute').notNull().default(''),
    computeSum: real('compute_sum').notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.deploymentId, t.versionId, t.source, t.resolution, t.at] }),
    index('deployment_metrics_org_at').on(t.orgId, t.resolution, t.at),
    index('deployment_metrics_resolution_at').on(t.resolution, t.at),
  ],
);

/** Metric batches already stored (edge isolates, agents), so a resent batch counts once; pruned after 48 h. */
export const metricBatches = sqliteTable('metric_batches', {
  batchId: text('batch_id').primaryKey(),
  receivedAt: integer('received_at', { mode: 'timestamp_ms' }).notNull(),
});

export const ALERT_METRICS = [
  'error_rate',
  'p95_latency_ms',
  'ready_replicas',
  'lost_agent',
  'spend_usd',
  'quota_used',
  'drift_score',
] as const;
export type AlertMetric = (typeof ALERT_METRICS)[number];
export const ALERT_STATES = ['ok', 'pending', 'firing'] as const;
export type AlertState = (typeof ALERT_STATES)[number];

/** A condition on one metric of the org (or of one deployment), and where it notifies. */
export const alertRules = sqliteTable(
  'alert_rules',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id')
      .notNull()
      .references(() => orgs.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    metric: text('metric', { enum: ALERT_METRICS }).notNull(),
    /** Null: every deployment of the org (the worst one counts). */
    deploymentId: text('deployment_id'),
    windowSeconds: integer('window_seconds').notNull(),
    threshold: real('threshold').notNull(),
    /** How long the condition must hold before pending becomes firing (0: at once). */
    forSeconds: integer('for_seconds').notNull().default(0),
    channelIds: text('channel_ids', { mode: 'json' }).$type<string[]>().notNull(),
    enabled: integer('enabled', { mode: 'boolean' }).notNull().default(true),
    state: text('state', { enum: ALERT_STATES }).notNull().default('ok'),
    /** When the condition started to hold (pending and firing). */
    activeSince: integer('active_since', { mode: 'timestamp_ms' }),
    lastValue: real('last_value'),
    lastEvaluatedAt: integer('last_evaluated_at', { mode: 'timestamp_ms' }),
    createdAt: createdAt(),
  },
  (t) => [index('alert_rules_org').on(t.orgId)],
);

/** While a silence holds, a rule's transitions are recorded but not notified. */
export const alertSilences = sqliteTable(
  'alert_silences',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id')
      .notNull()
      .references(() => orgs.id, { onDelete: 'cascade' }),
    /** Null: every rule of the org. */
    ruleId: text('rule_id'),
    startsAt: integer('starts_at', { mode: 'timestamp_ms' }).notNull(),
    endsAt: integer('ends_at', { mode: 'timestamp_ms' }).notNull(),
    comment: text('comment').notNull().default(''),
    /** Who silenced: a user or an API key (silences made before this was recorded have neither). */
    createdByType: text('created_by_type', { enum: ['user', 'api_key'] }),
    createdById: text('created_by_id'),
    createdAt: createdAt(),
  },
  (t) => [index('alert_silences_org').on(t.orgId, t.endsAt)],
);

/** One transition of a rule (firing or resolved): what is notified, once. */
export const alertEvents = sqliteTable(
  'alert_events',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull(),
    ruleId: text('rule_id').notNull(),
    kind: text('kind', { enum: ['firing', 'resolved'] }).notNull(),
    value: real('value'),
    silenced: integer('silenced', { mode: 'boolean' }).notNull().default(false),
    at: integer('at', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [index('alert_events_rule').on(t.ruleId, t.at)],
);

export const notificationChannels = sqliteTable(
  'notification_channels',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id')
      .notNull()
      .references(() => orgs.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    kind: text('kind', { enum: ['webhook', 'email'] }).notNull(),
    /** Webhook URL, or the e-mail address. */
    target: text('target').notNull(),
    /** Webhook signing secret (`whsec_…`), shown once at creation; '' for e-mail. */
    secret: text('secret').notNull().default(''),
    createdAt: createdAt(),
  },
  (t) => [index('notification_channels_org').on(t.orgId)],
);

/** One notification to one channel, retried with backoff until delivered or out of attempts. */
export const notificationDeliveries = sqliteTable(
  'notification_deliveries',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id').notNull(),
    channelId: text('channel_id').notNull(),
    /** The alert event, or null for a test delivery. */
    eventId: text('event_id'),
    payload: text('payload').notNull(),
    status: text('status', { enum: ['pending', 'delivered', 'failed'] }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: integer('next_attempt_at', { mode: 'timestamp_ms' }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    index('notification_deliveries_due').on(t.status, t.nextAttemptAt),
    index('notification_deliveries_channel').on(t.channelId, t.createdAt),
  ],
);

/** The delivery log: one row per attempt. */
export const notificationAttempts = sqliteTable(
  'notification_attempts',
  {
    deliveryId: text('delivery_id').notNull(),
    attempt: integer('attempt').notNull(),
    at: integer('at', { mode: 'timestamp_ms' }).notNull(),
    ok: integer('ok', { mode: 'boolean' }).notNull(),
    /** HTTP status of a webhook answer; null when none came (refused target, timeout, network). */
    httpStatus: integer('http_status'),
    error: text('error'),
    durationMs: integer('duration_ms').notNull(),
  },
  (t) => [primaryKey({ columns: [t.deliveryId, t.attempt] })],
);

/**
 * Drift sketches of one (deployment, feature): the reference (`window` 0: the first samples after a deploy,
 * frozen once it holds enough) and the sketch of each reported window (`window` = its start, epoch seconds).
 * Only sketches (histogram bins, counts) are stored, never the inputs.
 */
export const driftSketches = sqliteTable(
  'drift_sketches',
  {
    deploymentId: text('deployment_id').notNull(),
    feature: text('feature').notNull(),
    window: integer('window').notNull(),
    orgId: text('org_id').notNull(),
    versionId: text('version_id').notNull(),
    sketch: text('sketch', { mode: 'json' }).notNull(),
    count: integer('count').notNull(),
    frozen: integer('frozen', { mode: 'boolean' }).notNull().default(false),
  },
  (t) => [primaryKey({ columns: [t.deploymentId, t.feature, t.window] })],
);

/** The drift score of one feature in one window against the reference. */
export const driftScores = sqliteTable(
  'drift_scores',
  {
    deploymentId: text('deployment_id').notNull(),
    feature: text('feature').notNull(),
    window: integer('window').notNull(),
    orgId: text('org_id').notNull(),
    method: text('method', { enum: ['ks', 'psi', 'chi2'] }).notNull(),
    score: real('score').notNull(),
    /** p-value for KS / chi², null for PSI. */
    pValue: real('p_value'),
    drifted: integer('drifted', { mode: 'boolean' }).notNull(),
    count: integer('count').notNull(),
    at: integer('at', { mode: 'timestamp_ms' }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.deploymentId, t.feature, t.window] }),
    index('drift_scores_org').on(t.orgId, t.at),
  ],
);
