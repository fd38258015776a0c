import type { OrgStatus } from '@meridian/protocol';
import type { Database } from '../../db/client.js';
import { getOrgStatus, type StandingChange, setOrgStanding } from '../orgs/standing.js';
import { retryWhatStripeRefused } from './stripe/subscription-retry.js';

/**
 * An operator's change of an org's plan or standing (PUT /internal/v1/orgs/{orgId}/standing). Setting the plan
 * the org is already on asks billing for a new try at what Stripe refused, as an owner's choice of it does
 * (`changePlan`): for an Enterprise org, whose plan no owner may choose, it is the only way to ask.
 */
export async function setStandingAsOperator(
  db: Database,
  orgId: string,
  change: StandingChange,
): Promise<OrgStatus & { subscriptionRetried: boolean; usageBackfillRetried: boolean }> {
  const before = await getOrgStatus(db, orgId);
  const after = await setOrgStanding(db, orgId, change);
  const retried =
    change.plan !== undefined && change.plan === before.plan
      ? await retryWhatStripeRefused(db, orgId, change.plan)
      : { subscriptionRetried: false, usageBackfillRetried: false };
  return { ...after, ...retried };
}
