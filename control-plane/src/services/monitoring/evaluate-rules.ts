import { newId } from '@meridian/protocol';
import { and, desc, eq, gt, inArray, isNull, lte, or } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { alertEvents, alertRules, alertSilences, deployments } from '../../db/schema.js';
import { enqueueDeliveries } from '../notifications/channels.js';
import { breaches, nextRuleState } from './alert-state.js';
import { measureRule } from './measure.js';

type Rule = typeof alertRules.$inferSelect;

/** What a notification carries (the webhook body, and the e-mail's figures); a reader knows deployments by name. */
export function alertPayload(
  rule: Rule,
  kind: 'firing' | 'resolved',
  eventId: string,
  value: number | null,
  at: number,
  deploymentName: string | null = null,
) {
  return {
    type: `alert.${kind}`,
    eventId,
    at: new Date(at).toISOString(),
    value,
    rule: {
      id: rule.id,
      name: rule.name,
      metric: rule.metric,
      deploymentId: rule.deploymentId,
      deploymentName,
      threshold: rule.threshold,
      windowSeconds: rule.windowSeconds,
    },
  };
}

/**
 * Evaluates every enabled rule once: measures it, moves its state (pending → firing → resolved), and for a
 * transition that notifies records one event and queues one delivery per channel, all in one transaction
 * with the state change, so an event is notified once however often evaluation runs. A silenced transition
 * is recorded with `silenced` and queues nothing. Run by one instance at a time (the monitoring lease).
 */
export async function evaluateRules(db: Database, nowMs = Date.now()): Promise<number> {
  const rules = await db.select().from(alertRules).where(eq(alertRules.enabled, true));
  const names = await deploymentNames(db, rules);
  let events = 0;
  for (const rule of rules) {
    const value = await measureRule(db, rule, nowMs);
    const transition = nextRuleState(
      { state: rule.state, activeSince: rule.activeSince?.getTime() ?? null },
      breaches(rule.metric, value, rule.threshold),
      rule.forSeconds,
      nowMs,
    );
    // A firing a silence held back: told once the silence ends if it still fires, and its resolve never.
    const heldBack = transition.state === 'firing' || transition.event === 'resolved';
    const unheard = heldBack && (await firingUnheard(db, rule.id));
    if (unheard && transition.state === 'firing' && !(await isSilenced(db, rule, nowMs)))
      transition.event = 'firing';
    await db.transaction(async (tx) => {
      await tx
        .update(alertRules)
        .set({
          state: transition.state,
          activeSince: transition.activeSince === null ? null : new Date(transition.activeSince),
          lastValue: value,
          lastEvaluatedAt: new Date(nowMs),
        })
        .where(eq(alertRules.id, rule.id));
      if (!transition.event) return;
      events += 1;
      const silenced = (transition.event === 'resolved' && unheard) || (await isSilenced(tx, rule, nowMs));
      const eventId = newId('alertEvent');
      await tx.insert(alertEvents).values({
        id: eventId,
        orgId: rule.orgId,
        ruleId: rule.id,
        kind: transition.event,
        value,
        silenced,
        at: new Date(nowMs),
      });
      if (silenced) return;
      const name = rule.deploymentId === null ? null : (names.get(rule.deploymentId) ?? null);
      const payload = alertPayload(rule, transition.event, eventId, value, nowMs, name);
      await enqueueDeliveries(tx, rule.orgId, rule.channelIds, eventId, payload, nowMs);
    });
  }
  return events;
}

async function deploymentNames(db: Database, rules: Rule[]): Promise<Map<string, string>> {
  const ids = [...new Set(rules.flatMap((r) => (r.deploymentId === null ? [] : [r.deploymentId])))];
  if (ids.length === 0) return new Map();
  const rows = await db
    .select({ id: deployments.id, name: deployments.name })
    .from(deployments)
    .where(inArray(deployments.id, ids));
  return new Map(rows.map((r) => [r.id, r.name]));
}

/** Whether the rule's last event is a firing that a silence kept off the channels. */
async function firingUnheard(db: Pick<Database, 'select'>, ruleId: string): Promise<boolean> {
  const [last] = await db
    .select({ kind: alertEvents.kind, silenced: alertEvents.silenced })
    .from(alertEvents)
    .where(eq(alertEvents.ruleId, ruleId))
    .orderBy(desc(alertEvents.at))
    .limit(1);
  return last?.kind === 'firing' && last.silenced;
}

async function isSilenced(tx: Pick<Database, 'select'>, rule: Rule, nowMs: number): Promise<boolean> {
  const now = new Date(nowMs);
  const rows = await tx
    .select({ id: alertSilences.id })
    .from(alertSilences)
    .where(
      and(
        eq(alertSilences.orgId, rule.orgId),
        or(isNull(alertSilences.ruleId), eq(alertSilences.ruleId, rule.id)),
        lte(alertSilences.startsAt, now),
        gt(alertSilences.endsAt, now),
      ),
    )
    .limit(1);
  return rows.length > 0;
}
