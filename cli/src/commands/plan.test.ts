import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeApi } from '../fake-api.test-helper.js';

const PRICING = {
  currency: 'usd',
  meters: [],
  plans: [
    { plan: 'free', monthlyFeeUsd: '0', monthlyCalls: 1000, models: 1 },
    { plan: 'pro', monthlyFeeUsd: '199', monthlyCalls: 100_000, models: 10 },
    { plan: 'enterprise', monthlyFeeUsd: '0', monthlyCalls: null, models: null },
  ],
  rounding: '',
};
const org = (plan: string) => ({
  id: 'org_1',
  name: 'Acme',
  personal: false,
  plan,
  suspended: false,
  createdAt: '2026-01-01T00:00:00.000Z',
});

const stats = (used: number, monthlyQuota: number | null, models: number, limit: number | null) => ({
  orgId: 'org_1',
  plan: 'free',
  periodStart: '2026-12-01T00:00:00.000Z',
  periodEnd: '2027-01-01T00:00:00.000Z',
  asOf: '2026-12-07T00:00:00.000Z',
  calls: { used, monthlyQuota },
  models: { count: models, limit },
  spend: { baseFeeUsd: '0', usageUsd: '1.25', totalCents: 125 },
});
const FORBIDDEN = {
  status: 403,
  body: { error: { code: 'forbidden', message: 'Needs billing:read', requestId: 'req_1' } },
};

describe('meridian plan', () => {
  let api: Awaited<ReturnType<typeof fakeApi>>;
  beforeAll(async () => {
    api = await fakeApi();
  });
  afterAll(() => api.close());

  it('shows the plan with its fee and limits, the month so far, and the command that changes it', async () => {
    const month = stats(999, 1000, 1, 1);
    api.answer({
      'GET /v1/org': org('free'),
      'GET /v1/billing/pricing': PRICING,
      'GET /v1/billing/stats': month,
    });
    const shown = await api.run(['plan']);
    expect(shown.stderr).toBe('');
    expect(shown.code).toBe(0);
    // 99.9% reads 99%: a quota reads 100% only once it is spent.
    expect(shown.stdout).toBe(
      'Acme is on Free: $0 a month, 1,000 calls a month, 1 model\n' +
        'This month: 999 of 1,000 calls (99%), 1 of 1 model, $1.25 so far\n' +
        'Change it (owners): meridian plan set pro  (Pro: $199 a month, 100,000 calls a month, 10 models)\n',
    );

    const json = await api.run(['plan', '--json']);
    expect(JSON.parse(json.stdout)).toEqual({
      orgId: 'org_1',
      plan: 'free',
      monthlyFeeUsd: '0',
      limits: { monthlyCalls: 1000, models: 1 },
      monthToDate: month,
    });
  });

  it('still shows the plan to a role that cannot read billing, and says who can see the month', async () => {
    api.answer({
      'GET /v1/org': org('pro'),
      'GET /v1/billing/pricing': PRICING,
      'GET /v1/billing/stats': FORBIDDEN,
    });
    const shown = await api.run(['plan']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(
      'Acme is on Pro: $199 a month, 100,000 calls a month, 10 models\n' +
        'This month: owners and admins can see its use (meridian usage)\n',
    );
    expect(JSON.parse((await api.run(['plan', '--json'])).stdout).monthToDate).toBeNull();
  });

  it('fails on any other error reading the month, rather than hiding it', async () => {
    api.answer({
      'GET /v1/org': org('pro'),
      'GET /v1/billing/pricing': PRICING,
      'GET /v1/billing/stats': {
        status: 500,
        body: { error: { code: 'internal', message: 'boom', requestId: 'r' } },
      },
    });
    const failed = await api.run(['plan']);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('boom');
  });

  it('says which usage billing could not add to the Stripe invoice, and why, in plan and invoice', async () => {
    const usageBackfillRefused = {
      at: '2026-12-07T11:00:00.000Z',
      summary:
        'Billing could not add usage from before your subscription began to its Stripe invoice (Inference: $0.001 per call: 1,234 calls in November 2026, before the subscription began ($1.23)): Stripe refused it (invalid_request_error): Invalid request. Once that is fixed, an owner can try again by choosing the Pro plan again: meridian plan set pro, or Change plan on the usage page of the dashboard.',
      type: 'invalid_request_error',
      code: null,
      declineCode: null,
      message: 'Invalid request.',
      items: [
        {
          month: '2026-11',
          meter: 'inference_calls',
          description:
            'Inference: $0.001 per call: 1,234 calls in November 2026, before the subscription began',
          amountUsd: '1.23',
        },
      ],
    };
    api.answer({
      'GET /v1/org': org('pro'),
      'GET /v1/billing/pricing': PRICING,
      'GET /v1/billing/stats': { ...stats(10, 100_000, 1, 10), usageBackfillRefused },
      'GET /v1/billing/invoices/upcoming': {
        orgId: 'org_1',
        plan: 'pro',
        periodStart: '2026-12-01T00:00:00.000Z',
        periodEnd: '2027-01-01T00:00:00.000Z',
        currency: 'usd',
        lines: [],
        subtotalUsd: '199',
        totalCents: 19_900,
        subscriptionRefused: null,
        usageBackfillRefused,
      },
    });
    const line = `${usageBackfillRefused.summary} (refused 2026-12-07T11:00:00.000Z)`;
    const plan = await api.run(['plan']);
    expect(plan.code).toBe(0);
    expect(plan.stdout.split('\n')[2]).toBe(line);
    const invoice = await api.run(['invoice']);
    expect(invoice.code).toBe(0);
    expect(invoice.stdout.trimEnd().split('\n').at(-1)).toBe(line);
  });

  it('says billing could not start the subscription, and why, while Stripe refuses it', async () => {
    const subscriptionRefused = {
      at: '2026-12-07T10:00:00.000Z',
      summary:
        "Billing could not start your subscription: Stripe refused it (invalid_request_error, resource_missing): No such customer: 'cus_1' Once that is fixed, an owner can try again by choosing the Pro plan again: meridian plan set pro, or Change plan on the usage page of the dashboard.",
      type: 'invalid_request_error',
      code: 'resource_missing',
      declineCode: null,
      message: "No such customer: 'cus_1'",
    };
    api.answer({
      'GET /v1/org': org('pro'),
      'GET /v1/billing/pricing': PRICING,
      'GET /v1/billing/stats': { ...stats(10, 100_000, 1, 10), subscriptionRefused },
    });
    const shown = await api.run(['plan']);
    expect(shown.code).toBe(0);
    expect(shown.stdout.split('\n')[2]).toBe(
      `${subscriptionRefused.summary} (refused 2026-12-07T10:00:00.000Z)`,
    );
    expect(JSON.parse((await api.run(['plan', '--json'])).stdout).monthToDate.subscriptionRefused).toEqual(
      subscriptionRefused,
    );

    api.answer({
      'GET /v1/org': org('pro'),
      'GET /v1/billing/pricing': PRICING,
      'GET /v1/billing/stats': stats(1, 1000, 0, 1),
    });
    expect((await api.run(['plan'])).stdout).not.toContain('Billing could not start');
  });

  it('says Enterprise has no platform limits and offers no self-serve change', async () => {
    api.answer({
      'GET /v1/org': org('enterprise'),
      'GET /v1/billing/pricing': PRICING,
      'GET /v1/billing/stats': stats(123_456, null, 12, null),
    });
    const shown = await api.run(['plan']);
    expect(shown.stdout).toBe(
      'Acme is on Enterprise: contracted, no call quota, no model limit\n' +
        'This month: 123,456 calls, 12 models, $1.25 so far\n',
    );
  });

  it('plan set pro sends PUT /v1/billing/plan and says what changed', async () => {
    const change = {
      orgId: 'org_1',
      plan: 'pro',
      previousPlan: 'free',
      monthlyFeeUsd: '199',
      limits: { monthlyCalls: 100_000, models: 10 },
      subscriptionRetried: false,
    };
    api.answer({ 'PUT /v1/billing/plan': change });
    const set = await api.run(['plan', 'set', 'pro']);
    expect(set.code).toBe(0);
    expect(api.received).toEqual([{ method: 'PUT', path: '/v1/billing/plan', body: { plan: 'pro' } }]);
    expect(set.stdout).toBe('Moved from Free to Pro: $199 a month, 100,000 calls a month, 10 models\n');

    api.answer({ 'PUT /v1/billing/plan': { ...change, previousPlan: 'pro' } });
    expect((await api.run(['plan', 'set', 'pro'])).stdout).toBe(
      'Already on Pro: $199 a month, 100,000 calls a month, 10 models\n',
    );
    expect(JSON.parse((await api.run(['plan', 'set', 'pro', '--json'])).stdout)).toEqual({
      ...change,
      previousPlan: 'pro',
    });
  });

  it('plan set on the plan the org is on says billing tries again to start a subscription Stripe refused', async () => {
    api.answer({
      'PUT /v1/billing/plan': {
        orgId: 'org_1',
        plan: 'pro',
        previousPlan: 'pro',
        monthlyFeeUsd: '199',
        limits: { monthlyCalls: 100_000, models: 10 },
        subscriptionRetried: true,
      },
    });
    const set = await api.run(['plan', 'set', 'pro']);
    expect(set.code).toBe(0);
    expect(set.stdout).toBe(
      'Already on Pro: $199 a month, 100,000 calls a month, 10 models. Billing tries again to start the ' +
        'subscription Stripe refused; meridian plan shows whether it did.\n',
    );
  });

  it('refuses a plan it cannot set as usage (exit 2) before any request', async () => {
    api.answer({});
    for (const [value, message] of [
      ['enterprise', 'Enterprise is contracted'],
      ['Pro', 'Unknown plan Pro: a plan is one of free, pro'],
    ] as const) {
      const refused = await api.run(['plan', 'set', value]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain(message);
    }
    expect(api.received).toEqual([]);
  });

  it('passes on a refusal from the server (a member may not change the plan)', async () => {
    api.answer({
      'PUT /v1/billing/plan': {
        status: 403,
        body: { error: { code: 'forbidden', message: 'Needs billing:write', requestId: 'req_1' } },
      },
    });
    const refused = await api.run(['plan', 'set', 'free']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('Needs billing:write (403 forbidden)');
  });
});
