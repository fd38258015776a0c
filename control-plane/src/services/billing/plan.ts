import { PLAN_FEES_USD, PLAN_LIMITS, type Plan } from '@meridian/protocol';
import { requirePermission } from '../../auth/permissions.js';
import type { Actor } from '../../auth/principal.js';
import type { Database } from '../../db/client.js';
import { conflict, invalidField } from '../../errors.js';
import { recordAudit } from '../audit/record.js';
import { getOrgStatus, setOrgStanding } from '../orgs/standing.js';
import { retryWhatStripeRefused } from './stripe/subscription-retry.js';

/** The plans an org's owner may choose; Enterprise is contracted and set by operators. */
export const SELF_SERVE_PLANS = ['free', 'pro'] as const;
export const ENTERPRISE_IS_CONTRACTED =
  'Enterprise is contracted: ask your account manager, and an operator will set it';

/**
 * Moves the caller's org to Free or Pro. Enterprise is neither chosen nor left here: it is a contract, and
 * operators change it (PUT /internal/v1/orgs/{orgId}/standing). A downgrade keeps everything the org has;
 * the lower limits apply to what comes next (new models; the edge's call quota as soon as it re-reads the
 * plan). Choosing the current plan changes nothing and writes no audit entry, except while Stripe refuses to
 * start the org's subscription, or to add the invoice items of usage from before it: then it queues a new try
 * (`subscriptionRetried`, `usageBackfillRetried`, audited as billing.subscription_retry;
 * stripe/subscription-retry.ts, stripe/usage-backfill-refusal.ts). An org billed through Stripe has the change queued
 * for its subscription in the same transaction (stripe/plan-sync.ts).
 */
export async function changePlan(db: Database, actor: Actor, plan: Plan) {
  requirePermission(actor.principal, 'billing:write');
  const orgId = actor.principal.orgId;
  if (plan === 'enterprise') throw invalidField('plan', ENTERPRISE_IS_CONTRACTED);
  const before = await getOrgStatus(db, orgId);
  if (before.plan === 'enterprise') {
    throw conflict(
      'This organisation is on a contracted Enterprise plan: ask your account manager to change it',
    );
  }
  const unchanged = before.plan === plan;
  const after = unchanged ? before : await setOrgStanding(db, orgId, { plan });
  const { subscriptionRetried, usageBackfillRetried } = unchanged
    ? await retryWhatStripeRefused(db, orgId, plan)
    : { subscriptionRetried: false, usageBackfillRetried: false };
  // setOrgStanding runs its own transaction, so the audit entry follows the change rather than joining it.
  if (after.plan !== before.plan) {
    await recordAudit(db, actor, {
      orgId,
      action: 'billing.plan_change',
      targetType: 'org',
      targetId: orgId,
      metadata: { from: before.plan, to: after.plan },
    });
  } else if (subscriptionRetried || usageBackfillRetried) {
    await recordAudit(db, actor, {
      orgId,
      action: 'billing.subscription_retry',
      targetType: 'org',
      targetId: orgId,
      metadata: { plan, subscription: subscriptionRetried, usageBackfill: usageBackfillRetried },
    });
  }
  return {
    orgId,
    plan: after.plan,
    previousPlan: before.plan,
    monthlyFeeUsd: PLAN_FEES_USD[after.plan],
    limits: PLAN_LIMITS[after.plan],
    subscriptionRetried,
    usageBackfillRetried,
  };
}
