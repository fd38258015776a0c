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

describe('meridian plan', () => {
  let api: Awaited<ReturnType<typeof fakeApi>>;
  beforeAll(async () => {
    api = await fakeApi();
  });
  afterAll(() => api.close());

  it('shows the plan with its fee and limits, and the command that changes it', async () => {
    api.answer({ 'GET /v1/org': org('free'), 'GET /v1/billing/pricing': PRICING });
    const shown = await api.run(['plan']);
    expect(shown.stderr).toBe('');
    expect(shown.code).toBe(0);
    expect(shown.stdout).toBe(
      'Acme is on Free: $0 a month, 1,000 calls a month, 1 model\n' +
        'Change it (owners): meridian plan set pro  (Pro: $199 a month, 100,000 calls a month, 10 models)\n',
    );

    const json = await api.run(['plan', '--json']);
    expect(JSON.parse(json.stdout)).toEqual({
      orgId: 'org_1',
      plan: 'free',
      monthlyFeeUsd: '0',
      limits: { monthlyCalls: 1000, models: 1 },
    });
  });

  it('says Enterprise has no platform limits and offers no self-serve change', async () => {
    api.answer({ 'GET /v1/org': org('enterprise'), 'GET /v1/billing/pricing': PRICING });
    const shown = await api.run(['plan']);
    expect(shown.stdout).toBe('Acme is on Enterprise: contracted, no call quota, no model limit\n');
  });

  it('plan set pro sends PUT /v1/billing/plan and says what changed', async () => {
    const change = {
      orgId: 'org_1',
      plan: 'pro',
      previousPlan: 'free',
      monthlyFeeUsd: '199',
      limits: { monthlyCalls: 100_000, models: 10 },
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
