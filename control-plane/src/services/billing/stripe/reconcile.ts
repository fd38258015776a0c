import { billingWindow, type Meter, type Plan } from '@meridian/protocol';
import { and, eq, gte, isNotNull, lt, sql } from 'drizzle-orm';
import type { Database } from '../../../db/client.js';
import { billingCustomers, orgs, stripeMeters, stripeOutbox } from '../../../db/schema.js';
import type { Logger } from '../../../lib/logger.js';
import { usageByWindow } from '../windows.js';
import type { StripeCatalogue } from './catalogue.js';
import type { StripeGateway, SubscriptionItemChange } from './gateway.js';
import { hasPendingPlanSync, itemChangesFor, queuePlanSync } from './plan-sync.js';

/** One (org, meter) over the period: what the ledger bills, what the outbox holds, what Stripe counted. */
export interface ReconciliationRow {
  orgId: string;
  /** null while the org has no Stripe customer yet. */
  customerId: string | null;
  meter: Meter;
  /** Billable units by THE rounding rule, over every window of the period (closed or not). */
  ledger: number;
  /** Units in outbox rows Stripe accepted. */
  sent: number;
  /** Units in outbox rows still waiting (or in flight). */
  pending: number;
  /** Stripe's meter event summary for the customer and meter over the period. */
  stripe: number;
  /**
   * How far Stripe is outside what we told it: Stripe − sent when Stripe holds less than was accepted,
   * Stripe − (sent + pending) when it holds more than was ever sent; 0 in between (rows in flight).
   */
  drift: number;
  /** ledger − (sent + pending): usage of windows not closed or not enqueued yet; not drift. */
  notYetEnqueued: number;
}

export interface Reconciliation {
  /** The period, widened to whole UTC hours: [from, to) in ms. */
  from: number;
  to: number;
  rows: ReconciliationRow[];
  /** The rows whose drift is not zero. */
  drifted: ReconciliationRow[];
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

const rowKey = (orgId: string, meter: string) => `${orgId}|${meter}`;

/**
 * Compares, per (customer, meter), what we pushed with what Stripe's meter event summaries say for the
 * period, and with what the ledger bills. Meter events carry the middle of their hour as their time, so an
 * hour-aligned period holds exactly the windows that start inside it. Stripe aggregates asynchronously: a
 * period that ends in the last minutes may show drift that disappears on its own.
 */
export async function reconcile(
  db: Database,
  gateway: StripeGateway,
  period: { from: number; to: number; logger?: Logger },
): Promise<Reconciliation> {
  const from = billingWindow(period.from);
  const to = billingWindow(period.to - 1) + 3_600_000;
  const rows = new Map<string, ReconciliationRow>();
  const customers = new Map(
    (await db.select().from(billingCustomers)).map((c) => [c.orgId, c.stripeCustomerId]),
  );
  const meters = await db.select().from(stripeMeters);
  const row = (orgId: string, meter: Meter) => {
    const key = rowKey(orgId, meter);
    let found = rows.get(key);
    if (!found) {
      const customerId = customers.get(orgId) ?? null;
      found = {
        orgId,
        customerId,
        meter,
        ledger: 0,
        sent: 0,
        pending: 0,
        stripe: 0,
        drift: 0,
        notYetEnqueued: 0,
      };
      rows.set(key, found);
    }
    return found;
  };

  for (const w of await usageByWindow(db, { from, to })) row(w.orgId, w.meter).ledger += w.billableQuantity;
  const outbox = await db
    .select({
      orgId: stripeOutbox.orgId,
      meter: stripeOutbox.meter,
      status: stripeOutbox.status,
      units: sql<number>`sum(${stripeOutbox.value})`.mapWith(Number),
    })
    .from(stripeOutbox)
    .where(and(gte(stripeOutbox.windowStart, new Date(from)), lt(stripeOutbox.windowStart, new Date(to))))
    .groupBy(stripeOutbox.orgId, stripeOutbox.meter, stripeOutbox.status);
  for (const o of outbox) row(o.orgId, o.meter)[o.status === 'sent' ? 'sent' : 'pending'] += o.units;

  // Every customer and meter, not only those we pushed for: an event we never sent is drift too.
  const pairs = [...customers.entries()].flatMap(([orgId, customerId]) =>
    meters.map((m) => ({ orgId, customerId, meter: m.meter, meterId: m.stripeMeterId })),
  );
  const totals = await mapLimit(pairs, 4, (p) => gateway.meterTotal(p.meterId, p.customerId, from, to));
  pairs.forEach((p, i) => {
    const total = totals[i] ?? 0;
    if (total !== 0 || rows.has(rowKey(p.orgId, p.meter))) row(p.orgId, p.meter).stripe = total;
  });

  for (const r of rows.values()) {
    const high = r.sent + r.pending;
    r.drift = r.stripe > high ? r.stripe - high : r.stripe < r.sent ? r.stripe - r.sent : 0;
    r.notYetEnqueued = r.ledger - high;
  }
  const all = [...rows.values()].sort(
    (a, b) => a.orgId.localeCompare(b.orgId) || a.meter.localeCompare(b.meter),
  );
  const drifted = all.filter((r) => r.drift !== 0);
  for (const r of drifted) period.logger?.warn('stripe usage drift', { ...r, from, to });
  return { from, to, rows: all, drifted };
}

/** A subscription whose items disagree with its org's plan, and what would bring it in step. */
export interface SubscriptionDrift {
  orgId: string;
  subscriptionId: string;
  plan: Plan;
  changes: SubscriptionItemChange[];
}

/**
 * Compares every subscription's items with its org's plan, and queues a sync for each that disagrees (an item
 * removed or added in Stripe's dashboard, a change lost before plan changes were queued); the runner applies
 * it like a plan change. An org with a sync already pending is skipped: that sync settles it. A subscription
 * Stripe cannot read now is skipped until the next check.
 */
export async function reconcileSubscriptions(
  db: Database,
  gateway: StripeGateway,
  catalogue: StripeCatalogue,
  options: { now: number; logger?: Logger },
): Promise<{ checked: number; drifted: SubscriptionDrift[] }> {
  const subscribed = await db
    .select({
      orgId: billingCustomers.orgId,
      subscriptionId: billingCustomers.subscriptionId,
      plan: orgs.plan,
    })
    .from(billingCustomers)
    .innerJoin(orgs, eq(orgs.id, billingCustomers.orgId))
    .where(isNotNull(billingCustomers.subscriptionId));
  const found = await mapLimit(subscribed, 4, async (row) => {
    if (!row.subscriptionId || (await hasPendingPlanSync(db, row.orgId))) return undefined;
    try {
      const subscription = await gateway.getSubscription(row.subscriptionId);
      if (['canceled', 'incomplete_expired'].includes(subscription.status)) return undefined;
      const changes = itemChangesFor(subscription.items, row.plan, catalogue);
      return changes.length > 0 ? { ...row, subscriptionId: row.subscriptionId, changes } : undefined;
    } catch (error) {
      options.logger?.warn('stripe subscription not checked', { orgId: row.orgId, error });
      return undefined;
    }
  });
  const drifted = found.filter((d): d is SubscriptionDrift => d !== undefined);
  for (const d of drifted) {
    options.logger?.warn('stripe subscription out of step with the plan', { ...d });
    await db.transaction((tx) =>
      queuePlanSync(tx, {
        orgId: d.orgId,
        from: d.plan,
        to: d.plan,
        reason: 'drift',
        now: new Date(options.now),
      }),
    );
  }
  return { checked: subscribed.length, drifted };
}
