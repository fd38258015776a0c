import { type OrgStatus, PLAN_LIMITS, type Plan } from '@meridian/protocol';
import { eq } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { orgs } from '../../db/schema.js';
import { notFound } from '../../errors.js';
import { queuePlanSync } from '../billing/stripe/plan-sync.js';
import type { Reader } from '../models/deps.js';

type StandingRow = Pick<typeof orgs.$inferSelect, 'id' | 'plan' | 'suspendedAt' | 'suspendedReason'>;

const standingColumns = {
  id: orgs.id,
  plan: orgs.plan,
  suspendedAt: orgs.suspendedAt,
  suspendedReason: orgs.suspendedReason,
};

const toStatus = (row: StandingRow): OrgStatus => ({
  orgId: row.id,
  plan: row.plan,
  monthlyCallQuota: PLAN_LIMITS[row.plan].monthlyCalls,
  suspended: row.suspendedAt !== null,
  suspendedReason: row.suspendedAt === null ? null : row.suspendedReason,
});

async function findStanding(db: Reader, orgId: string): Promise<StandingRow> {
  const [row] = await db.select(standingColumns).from(orgs).where(eq(orgs.id, orgId));
  if (!row) throw notFound('Organisation');
  return row;
}

/** What the edge enforces for an org: its plan's monthly quota, and whether it is suspended. */
export async function getOrgStatus(db: Reader, orgId: string): Promise<OrgStatus> {
  return toStatus(await findStanding(db, orgId));
}

export interface StandingChange {
  plan?: Plan;
  /** true suspends (keeping the first suspension's time if already suspended); false lifts it. */
  suspended?: boolean;
  /** Why it is suspended, shown to callers in the 402; only with `suspended: true`. */
  reason?: string;
}

export interface StandingOptions {
  now?: Date;
  /**
   * false when Stripe made the change itself (its subscription ended): there is nothing to tell it. Otherwise a
   * new plan of an org with a Stripe customer is queued for its subscription in the same transaction.
   */
  syncStripe?: boolean;
}

/**
 * Changes an org's plan and standing: owners (Free and Pro) and operators call it, billing when a subscription
 * ends or a payment fails or recovers. Lifting a suspension clears its reason.
 */
export async function setOrgStanding(
  db: Database,
  orgId: string,
  change: StandingChange,
  options: StandingOptions = {},
): Promise<OrgStatus> {
  const now = options.now ?? new Date();
  return db.transaction(async (tx) => {
    const current = await findStanding(tx, orgId);
    const next: StandingRow = { ...current, plan: change.plan ?? current.plan };
    if (change.suspended === true) {
      next.suspendedAt = current.suspendedAt ?? now;
      next.suspendedReason = change.reason ?? current.suspendedReason;
    } else if (change.suspended === false) {
      next.suspendedAt = null;
      next.suspendedReason = null;
    }
    await tx
      .update(orgs)
      .set({ plan: next.plan, suspendedAt: next.suspendedAt, suspendedReason: next.suspendedReason })
      .where(eq(orgs.id, orgId));
    if (next.plan !== current.plan && options.syncStripe !== false) {
      await queuePlanSync(tx, { orgId, from: current.plan, to: next.plan, reason: 'plan_change', now });
    }
    return toStatus(next);
  });
}
