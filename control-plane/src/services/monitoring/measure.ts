import { emptyHistogram, histogramQuantile, mergeHistogram } from '@meridian/protocol';
import { and, count, eq, gt, gte, inArray, isNull, or } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import {
  agents,
  type alertRules,
  deploymentMetrics,
  deployments,
  driftScores,
  workloads,
} from '../../db/schema.js';
import { billingStats } from '../billing/stats.js';
import { decodeHistogram } from './histogram-codec.js';

type Rule = typeof alertRules.$inferSelect;

/**
 * The current value of a rule's metric, over its window where it has one, or null when there is nothing to
 * judge (no calls in the window). Rules without a deployment take the whole org (all its deployments).
 * - `error_rate`: calls answered 4xx or 5xx over all calls, as callers got them at the edge (0–1);
 * - `p95_latency_ms`: p95 of the edge latency histogram;
 * - `ready_replicas`: replicas ready now (a deployment's, or the fewest of any deployment of the org), of
 *   deployments that want one: one scaled to zero on purpose is idle, not down, and is not judged;
 * - `lost_agent`: the org's workloads on agents that are lost now;
 * - `spend_usd`: what the current billing period costs so far (base fee and usage);
 * - `quota_used`: calls this month over the plan's monthly quota (0–1; null without a quota);
 * - `drift_score`: the highest drift score of a feature in the window.
 * Minute rows count when they overlap the window, so a window is effectively rounded up to whole minutes.
 */
export async function measureRule(db: Database, rule: Rule, nowMs: number): Promise<number | null> {
  const since = Math.floor(nowMs / 1000) - rule.windowSeconds;
  switch (rule.metric) {
    case 'error_rate':
    case 'p95_latency_ms':
      return edgeFigure(db, rule, since - 59);
    case 'ready_replicas':
      return readyReplicas(db, rule);
    case 'lost_agent': {
      const [row] = await db
        .select({ n: count() })
        .from(workloads)
        .innerJoin(agents, eq(agents.id, workloads.agentId))
        .where(
          and(
            eq(workloads.orgId, rule.orgId),
            eq(agents.status, 'lost'),
            scope(workloads.deploymentId, rule),
          ),
        );
      return row?.n ?? 0;
    }
    case 'spend_usd': {
      const stats = await billingStats(db, rule.orgId, nowMs);
      // Exact, not rounded to cents: a rule may watch a budget of a few cents.
      return Number(stats.spend.baseFeeUsd) + Number(stats.spend.usageUsd);
    }
    case 'quota_used': {
      const stats = await billingStats(db, rule.orgId, nowMs);
      const quota = stats.calls.monthlyQuota;
      return quota ? stats.calls.used / quota : null;
    }
    case 'drift_score': {
      const rows = await db
        .select({ score: driftScores.score })
        .from(driftScores)
        .where(
          and(
            eq(driftScores.orgId, rule.orgId),
            gte(driftScores.at, new Date(since * 1000)),
            scope(driftScores.deploymentId, rule),
          ),
        );
      return rows.length === 0 ? null : Math.max(...rows.map((r) => r.score));
    }
  }
}

function scope(column: typeof workloads.deploymentId | typeof driftScores.deploymentId, rule: Rule) {
  return rule.deploymentId === null ? undefined : eq(column, rule.deploymentId);
}

async function edgeFigure(db: Database, rule: Rule, sinceMinute: number): Promise<number | null> {
  const rows = await db
    .select()
    .from(deploymentMetrics)
    .where(
      and(
        eq(deploymentMetrics.orgId, rule.orgId),
        eq(deploymentMetrics.source, 'edge'),
        eq(deploymentMetrics.resolution, 60),
        gt(deploymentMetrics.at, sinceMinute),
        rule.deploymentId === null ? undefined : eq(deploymentMetrics.deploymentId, rule.deploymentId),
      ),
    );
  if (rule.metric === 'error_rate') {
    let total = 0;
    let failed = 0;
    for (const r of rows) {
      total += r.c1xx + r.c2xx + r.c3xx + r.c4xx + r.c5xx;
      failed += r.c4xx + r.c5xx;
    }
    return total === 0 ? null : failed / total;
  }
  const h = emptyHistogram();
  for (const r of rows) mergeHistogram(h, decodeHistogram(r.latency, r.latencySum));
  return histogramQuantile(h, 0.95);
}

async function readyReplicas(db: Database, rule: Rule): Promise<number | null> {
  // A wake raises desiredReplicas at once, so a deployment woken by a call that cannot start is judged again.
  const deps = await db
    .select({ id: deployments.id })
    .from(deployments)
    .where(
      and(
        eq(deployments.orgId, rule.orgId),
        rule.deploymentId === null ? undefined : eq(deployments.id, rule.deploymentId),
        gt(deployments.desiredReplicas, 0),
      ),
    );
  if (deps.length === 0) return null;
  const ready = await db
    .select({ deploymentId: workloads.deploymentId, n: count() })
    .from(workloads)
    .where(
      and(
        inArray(
          workloads.deploymentId,
          deps.map((d) => d.id),
        ),
        eq(workloads.phase, 'ready'),
        or(isNull(workloads.retireAt), gt(workloads.retireAt, new Date())),
      ),
    )
    .groupBy(workloads.deploymentId);
  const byDeployment = new Map(ready.map((r) => [r.deploymentId, r.n]));
  return Math.min(...deps.map((d) => byDeployment.get(d.id) ?? 0));
}
