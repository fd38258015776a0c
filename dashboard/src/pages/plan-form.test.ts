import { describe, expect, it } from 'vitest';
import { type PlanChange, planChangeDone } from './plan-form';

const answer = (over: Partial<PlanChange> = {}): PlanChange => ({
  orgId: 'org_1',
  plan: 'pro',
  previousPlan: 'pro',
  monthlyFeeUsd: '199',
  limits: { monthlyCalls: 100_000, models: 10 },
  subscriptionRetried: false,
  usageBackfillRetried: false,
  ...over,
});

describe('what the plan form says once a plan is chosen', () => {
  it('says billing tries again when the owner chose the plan again after Stripe refused the subscription', () => {
    expect(planChangeDone(answer({ subscriptionRetried: true }))).toBe(
      'Now on pro (199 USD a month). Billing tries again to start the subscription Stripe refused; the ' +
        'invoice above says whether it did.',
    );
    expect(planChangeDone(answer({ usageBackfillRetried: true }))).toBe(
      'Now on pro (199 USD a month). Billing tries again to bill the usage from before the subscription that ' +
        'Stripe refused; the invoice above says whether it did.',
    );
    expect(planChangeDone(answer())).toBe('Now on pro (199 USD a month).');
  });
});
