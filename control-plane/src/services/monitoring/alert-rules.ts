import { newId } from '@meridian/protocol';
import { and, desc, eq, inArray } from 'drizzle-orm';
import { requirePermission } from '../../auth/permissions.js';
import type { Actor } from '../../auth/principal.js';
import type { Database } from '../../db/client.js';
import {
  type AlertMetric,
  alertEvents,
  alertRules,
  deployments,
  notificationChannels,
} from '../../db/schema.js';
import { AppError, notFound } from '../../errors.js';
import { recordAudit } from '../audit/record.js';

export interface AlertRuleInput {
  name: string;
  metric: AlertMetric;
  deploymentId?: string | null;
  windowSeconds: number;
  threshold: number;
  forSeconds?: number;
  channelIds: string[];
  enabled?: boolean;
}

type Rule = typeof alertRules.$inferSelect;

export function presentRule(r: Rule) {
  return {
    id: r.id,
    name: r.name,
    metric: r.metric,
    deploymentId: r.deploymentId,
    windowSeconds: r.windowSeconds,
    threshold: r.threshold,
    forSeconds: r.forSeconds,
    channelIds: r.channelIds,
    enabled: r.enabled,
    state: r.state,
    activeSince: r.activeSince?.toISOString() ?? null,
    lastValue: r.lastValue,
    lastEvaluatedAt: r.lastEvaluatedAt?.toISOString() ?? null,
    createdAt: r.createdAt.toISOString(),
  };
}

/** The deployment and channels a rule names must be the caller's org's; another org's read as unknown. */
async function checkReferences(db: Database, orgId: string, input: Partial<AlertRuleInput>): Promise<void> {
  if (input.deploymentId) {
    const [d] = await db
      .select({ id: deployments.id })
      .from(deployments)
      .where(and(eq(deployments.id, input.deploymentId), eq(deployments.orgId, orgId)));
    if (!d) throw notFound('Deployment');
  }
  if (input.channelIds && input.channelIds.length > 0) {
    const found = await db
      .select({ id: notificationChannels.id })
      .from(notificationChannels)
      .where(and(eq(notificationChannels.orgId, orgId), inArray(notificationChannels.id, input.channelIds)));
    const known = new Set(found.map((c) => c.id));
    const missing = input.channelIds.findIndex((id) => !known.has(id));
    if (missing >= 0) throw notFound('Notification channel');
  }
}

/** Metrics that are a share, 0 to 1. */
const SHARES: readonly AlertMetric[] = ['error_rate', 'quota_used'];

/**
 * Refuses a threshold the metric can never cross, or always crosses: a rule `error_rate > -1` fired at once and
 * never resolved, and `error_rate > 5` (5% meant) never fired; neither was said when it was made.
 */
function checkThreshold(metric: AlertMetric, threshold: number): void {
  const problem = SHARES.includes(metric)
    ? threshold < 0 || threshold > 1
      ? `${metric} is a share from 0 to 1 (0.05 is 5%): give a threshold in that range, not ${threshold}`
      : undefined
    : metric === 'ready_replicas'
      ? threshold <= 0
        ? `ready_replicas fires below the threshold and is never below 0: give more than 0, not ${threshold}`
        : undefined
      : threshold < 0
        ? `${metric} is never negative, so a threshold of ${threshold} fires always: give 0 or more`
        : undefined;
  if (problem) throw new AppError('validation_failed', problem, [{ path: 'threshold', message: problem }]);
}

export async function createAlertRule(db: Database, actor: Actor, input: AlertRuleInput) {
  requirePermission(actor.principal, 'deployments:write');
  const orgId = actor.principal.orgId;
  checkThreshold(input.metric, input.threshold);
  await checkReferences(db, orgId, input);
  const id = newId('alertRule');
  const [row] = await db.transaction(async (tx) => {
    const inserted = await tx
      .insert(alertRules)
      .values({
        id,
        orgId,
        name: input.name,
        metric: input.metric,
        deploymentId: input.deploymentId ?? null,
        windowSeconds: input.windowSeconds,
        threshold: input.threshold,
        forSeconds: input.forSeconds ?? 0,
        channelIds: input.channelIds,
        enabled: input.enabled ?? true,
      })
      .returning();
    await recordAudit(tx, actor, {
      orgId,
      action: 'alert_rule.create',
      targetType: 'alert_rule',
      targetId: id,
      metadata: { name: input.name },
    });
    return inserted;
  });
  if (!row) throw new Error('alert rule insert returned nothing');
  return presentRule(row);
}

export async function listAlertRules(db: Database, actor: Actor) {
  requirePermission(actor.principal, 'deployments:read');
  const rows = await db
    .select()
    .from(alertRules)
    .where(eq(alertRules.orgId, actor.principal.orgId))
    .orderBy(alertRules.id)
    .limit(500);
  return { items: rows.map(presentRule) };
}

async function findRule(db: Database, orgId: string, id: string): Promise<Rule> {
  const [row] = await db
    .select()
    .from(alertRules)
    .where(and(eq(alertRules.id, id), eq(alertRules.orgId, orgId)));
  if (!row) throw notFound('Alert rule');
  return row;
}

export async function getAlertRule(db: Database, actor: Actor, id: string) {
  requirePermission(actor.principal, 'deployments:read');
  return presentRule(await findRule(db, actor.principal.orgId, id));
}

/** Changes a rule; a changed condition starts it over from ok (a firing rule resolves silently). */
export async function updateAlertRule(
  db: Database,
  actor: Actor,
  id: string,
  input: Partial<AlertRuleInput>,
) {
  requirePermission(actor.principal, 'deployments:write');
  const orgId = actor.principal.orgId;
  const current = await findRule(db, orgId, id);
  if (input.metric !== undefined || input.threshold !== undefined)
    checkThreshold(input.metric ?? current.metric, input.threshold ?? current.threshold);
  await checkReferences(db, orgId, input);
  const conditionChanged = ['metric', 'deploymentId', 'windowSeconds', 'threshold', 'forSeconds'].some(
    (k) => k in input,
  );
  const [row] = await db.transaction(async (tx) => {
    const updated = await tx
      .update(alertRules)
      .set({
        ...input,
        ...(conditionChanged ? { state: 'ok' as const, activeSince: null } : {}),
      })
      .where(and(eq(alertRules.id, current.id), eq(alertRules.orgId, orgId)))
      .returning();
    await recordAudit(tx, actor, {
      orgId,
      action: 'alert_rule.update',
      targetType: 'alert_rule',
      targetId: id,
      metadata: { name: input.name ?? current.name },
    });
    return updated;
  });
  if (!row) throw notFound('Alert rule');
  return presentRule(row);
}

export async function deleteAlertRule(db: Database, actor: Actor, id: string): Promise<void> {
  requirePermission(actor.principal, 'deployments:write');
  const orgId = actor.principal.orgId;
  const rule = await findRule(db, orgId, id);
  await db.transaction(async (tx) => {
    await tx.delete(alertRules).where(and(eq(alertRules.id, id), eq(alertRules.orgId, orgId)));
    await recordAudit(tx, actor, {
      orgId,
      action: 'alert_rule.delete',
      targetType: 'alert_rule',
      targetId: id,
      metadata: { name: rule.name },
    });
  });
}

/** A rule's latest transitions, newest first. */
export async function listAlertEvents(db: Database, actor: Actor, ruleId: string) {
  requirePermission(actor.principal, 'deployments:read');
  await findRule(db, actor.principal.orgId, ruleId);
  const rows = await db
    .select()
    .from(alertEvents)
    .where(and(eq(alertEvents.ruleId, ruleId), eq(alertEvents.orgId, actor.principal.orgId)))
    .orderBy(desc(alertEvents.at))
    .limit(200);
  return {
    items: rows.map((e) => ({
      id: e.id,
      kind: e.kind,
      value: e.value,
      silenced: e.silenced,
      at: e.at.toISOString(),
    })),
  };
}
