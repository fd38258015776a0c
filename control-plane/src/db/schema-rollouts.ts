import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { deployments } from './schema-scheduling.js';

// Canary rollouts: a new revision serves a share of a deployment's calls, step by step, while the scheduler
// compares its errors and latency with the revision it replaces; worse by more than the policy's margins, it
// is rolled back by itself.

export const ROLLOUT_STATES = ['canary', 'promoted', 'rolled_back', 'cancelled', 'superseded'] as const;
export type RolloutState = (typeof ROLLOUT_STATES)[number];

/** What a canary rollout is judged by; see services/rollouts/policy.ts. */
export interface CanaryPolicy {
  /** Shares of unpinned calls the new revision takes, step by step (each in (0, 1), increasing). */
  steps: number[];
  /** How long each step lasts before it is judged passed. */
  windowSeconds: number;
  /** Most the canary's 5xx rate may exceed the old revision's, in absolute terms (0.05: 5 points). */
  maxErrorRateIncrease: number;
  /** Most the canary's p95 may be, as a multiple of the old revision's; null: latency is not judged. */
  maxP95LatencyRatio: number | null;
  /** A p95 only this many ms above the old one's never counts as worse (histogram buckets are coarse). */
  p95LatencySlackMs: number;
  /** Calls the canary must have served in a step before it may pass, and before a rate is read as such. */
  minCalls: number;
}

/** Counts of one revision read from the edge's metrics: calls by class and the latency histogram. */
export interface RevisionTotals {
  calls: number;
  errors: number;
  /** Bucket counts (LATENCY_BUCKET_BOUNDS_MS), not cumulative. */
  latency: number[];
}

/** What one step of a canary saw, as last judged. */
export interface StepFigures {
  canary: { calls: number; errors: number; errorRate: number | null; p95Ms: number | null };
  base: { calls: number; errors: number; errorRate: number | null; p95Ms: number | null };
  judgedAt: number;
}

/** One canary rollout of a deployment: revision `revision` against `baseRevision`. */
export const deploymentRollouts = sqliteTable(
  'deployment_rollouts',
  {
    deploymentId: text('deployment_id')
      .notNull()
      .references(() => deployments.id, { onDelete: 'cascade' }),
    /** The canary's revision. */
    revision: integer('revision').notNull(),
    /** The revision it is compared with and returns to on rollback: the one serving when it began. */
    baseRevision: integer('base_revision').notNull(),
    orgId: text('org_id').notNull(),
    policy: text('policy', { mode: 'json' }).$type<CanaryPolicy>().notNull(),
    state: text('state', { enum: ROLLOUT_STATES }).notNull().default('canary'),
    /** Index into policy.steps. */
    step: integer('step').notNull().default(0),
    /** When routing first gave the canary this step's share; null while its replicas start. */
    stepStartedAt: integer('step_started_at', { mode: 'timestamp_ms' }),
    /** The edge's totals of both revisions when the step began: the step's figures are counted from them. */
    stepBaseline: text('step_baseline', { mode: 'json' }).$type<{
      canary: RevisionTotals;
      base: RevisionTotals;
    }>(),
    /** The step's figures as last judged. */
    figures: text('figures', { mode: 'json' }).$type<StepFigures>(),
    /** Why it ended, in words (the event's message). */
    reason: text('reason'),
    createdAt: integer('created_at', { mode: 'timestamp_ms' })
      .notNull()
      .default(sql`(unixepoch('subsec') * 1000)`),
    finishedAt: integer('finished_at', { mode: 'timestamp_ms' }),
  },
  (t) => [
    primaryKey({ columns: [t.deploymentId, t.revision] }),
    index('deployment_rollouts_state').on(t.state),
  ],
);
