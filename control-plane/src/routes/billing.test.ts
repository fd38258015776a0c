import { newId, type UsageEntry, type UsageRecord } from '@meridian/protocol';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerTestAgent } from '../../testing/agents.js';
import { newModel } from '../../testing/models.js';
import { createTestApp, type Session } from '../../testing/test-app.js';
import { deployments, notebooks, workloadOwners } from '../db/schema.js';
import { calendarMonth } from '../services/billing/period.js';
import { setOrgStanding } from '../services/orgs/standing.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();
const DEPLOYMENT = 'dep_01jcx0000000000000000000ab';

describe('billing API', () => {
  let t: TestApp;
  let agent: { agentId: string; credential: string };
  let seq = 0;
  let batches = 0;
  // Usage goes into the current calendar month, which every default period covers.
  const month = calendarMonth(Date.now());

  beforeAll(async () => {
    // New orgs on Free, as in production.
    t = await createTestApp({ plan: 'free' });
    agent = await registerTestAgent(t);
  });
  afterAll(() => t.cleanup());

  const call = (method: string, path: string, token?: string, body?: unknown) =>
    t.client.call(method, path, { ...(token ? { token } : {}), ...(body === undefined ? {} : { body }) });

  const calls = async (
    orgId: string,
    records: [minute: number, calls: number][],
    deploymentId: string = DEPLOYMENT,
  ) => {
    batches += 1;
    const body = {
      batchId: `edge-test:${batches}`,
      records: records.map(
        ([minute, n]): UsageRecord => ({
          orgId,
          keyId: null,
          userId: 'usr_01jcx0000000000000000000ab',
          deploymentId,
          minute: iso(minute),
          calls: n,
          bytesIn: 0,
          bytesOut: 0,
        }),
      ),
    };
    const res = await call('POST', '/internal/v1/usage', t.edgeServiceToken, body);
    expect(res.status, res.text).toBe(200);
  };
  /** T4 time of a notebook workload of the org, reported by the agent. */
  const t4Time = async (orgId: string, from: number, seconds: number) => {
    const workloadId = newId('workload');
    const notebookId = newId('notebook');
    await t.db
      .insert(workloadOwners)
      .values({ workloadId, orgId, kind: 'notebook', deploymentId: null, notebookId, gpuType: 't4' });
    seq += 1;
    const entry: UsageEntry = {
      workloadId,
      gpuType: 't4',
      seconds,
      from: iso(from),
      to: iso(from + seconds * 1000),
    };
    const res = await call('POST', '/agent/v1/usage', agent.credential, { seq, entries: [entry] });
    expect(res.status, res.text).toBe(200);
    return notebookId;
  };

  /** An org on Pro with 12,345 calls and 90 T4 minutes (60 in its first hour, 30 in its second). */
  const proOrgWithUsage = async () => {
    const owner = await t.client.register('owner');
    expect((await call('PUT', '/v1/billing/plan', owner.accessToken, { plan: 'pro' })).status).toBe(200);
    await calls(owner.orgId, [
      [month.start + 5 * 60_000, 12_000],
      [month.start + 2 * HOUR, 345],
    ]);
    const notebookId = await t4Time(owner.orgId, month.start, 5400);
    return { owner, notebookId };
  };

  it('publishes meters, prices, plans and the rounding rule without credentials', async () => {
    const res = await call('GET', '/v1/billing/pricing');
    expect(res.status, res.text).toBe(200);
    expect(res.json.meters).toContainEqual({
      meter: 'storage_mb_hours',
      unit: 'MB-hour',
      rawUnit: 'byte-hour',
      usdPerUnit: '0.00000013698630137',
      description: expect.stringContaining('GB-month'),
    });
    expect(res.json.meters.find((m: { meter: string }) => m.meter === 'gpu_t4_minutes').usdPerUnit).toBe(
      '0.02',
    );
    expect(res.json.plans).toEqual([
      { plan: 'free', monthlyFeeUsd: '0', monthlyCalls: 1000, models: 1 },
      { plan: 'pro', monthlyFeeUsd: '199', monthlyCalls: 100_000, models: 10 },
      { plan: 'enterprise', monthlyFeeUsd: '0', monthlyCalls: null, models: null },
    ]);
    expect(res.json.rounding).toMatch(/rounded up to whole minutes.*half up/s);
  });

  it('shows the month’s usage by meter, each window rounded, amounts exact', async () => {
    const { owner } = await proOrgWithUsage();
    const res = await call('GET', '/v1/billing/usage', owner.accessToken);
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({
      orgId: owner.orgId,
      from: iso(month.start),
      to: iso(month.end),
      groupBy: 'meter',
      totalUsd: '14.145',
      totalCents: 1415,
    });
    expect(res.json.lines).toEqual([
      {
        key: 'inference_calls',
        name: null,
        meter: 'inference_calls',
        rawQuantity: 12_345,
        rawUnit: 'call',
        billableQuantity: 12_345,
        unit: 'call',
        usdPerUnit: '0.001',
        amountUsd: '12.345',
      },
      {
        key: 'gpu_t4_minutes',
        name: null,
        meter: 'gpu_t4_minutes',
        rawQuantity: 5400,
        rawUnit: 'second',
        billableQuantity: 90,
        unit: 'minute',
        usdPerUnit: '0.02',
        amountUsd: '1.8',
      },
    ]);
  });

  it('groups usage by UTC day, deployment and notebook', async () => {
    const { owner, notebookId } = await proOrgWithUsage();
    const grouped = async (groupBy: string) =>
      (await call('GET', `/v1/billing/usage?groupBy=${groupBy}`, owner.accessToken)).json;
    const day = iso(month.start).slice(0, 10);
    expect((await grouped('day')).lines.map((l: { key: string }) => l.key)).toEqual([day, day]);
    const byDeployment = await grouped('deployment');
    expect(byDeployment.lines.map((l: { key: string | null; meter: string }) => [l.key, l.meter])).toEqual([
      [DEPLOYMENT, 'inference_calls'],
      [null, 'gpu_t4_minutes'],
    ]);
    const byNotebook = await grouped('notebook');
    expect(byNotebook.lines.map((l: { key: string | null; meter: string }) => [l.key, l.meter])).toEqual([
      [notebookId, 'gpu_t4_minutes'],
      [null, 'inference_calls'],
    ]);
    expect(byNotebook.totalCents).toBe(1415);
  });

  it('names deployment and notebook lines as their owners called them, never by another org’s rows', async () => {
    const owner = await t.client.register('namer');
    const other = await t.client.register('other');
    // One model per org, which Free allows, serves all of its deployments.
    const models = new Map<string, string>();
    const deployment = async (session: Session, name: string, id = newId('deployment')) => {
      const modelId = models.get(session.orgId) ?? (await newModel(t.app, session.accessToken));
      models.set(session.orgId, modelId);
      await t.db.insert(deployments).values({
        id,
        orgId: session.orgId,
        name,
        modelId,
        runtime: 'onnx',
        gpuType: 'cpu',
        gpuCount: 0,
        minReplicas: 1,
        maxReplicas: 1,
        createdBy: session.userId,
        updatedAt: new Date(),
      });
      return id;
    };
    const named = await deployment(owner, 'ocr-cls');
    await calls(owner.orgId, [[month.start + 60_000, 3]], named);
    // The owner's ledger names an id that is not the owner's: another org holds a row with that id.
    const foreign = await deployment(other, 'their-secret-name');
    await calls(owner.orgId, [[month.start + 60_000, 2]], foreign);
    // And one deleted after it was billed: its row is removed, its ledger stays.
    const deleted = await deployment(owner, 'retired');
    await calls(owner.orgId, [[month.start + 60_000, 1]], deleted);
    await t.db.delete(deployments).where(eq(deployments.id, deleted));
    const notebookId = await t4Time(owner.orgId, month.start, 120);
    await t.db.insert(notebooks).values({
      id: notebookId,
      orgId: owner.orgId,
      ownerId: owner.userId,
      name: 'lab',
      gpuType: 't4',
      gpuCount: 1,
      image: 'meridian/notebook:1',
      idleTimeoutSeconds: 3600,
      desired: 'stopped',
      token: 't'.repeat(32),
      updatedAt: new Date(),
    });
    const lines = async (groupBy: string) =>
      (
        (await call('GET', `/v1/billing/usage?groupBy=${groupBy}`, owner.accessToken)).json.lines as {
          key: string | null;
          name: string | null;
          meter: string;
        }[]
      ).map((l) => [l.key, l.name, l.meter]);
    expect(await lines('deployment')).toEqual(
      expect.arrayContaining([
        [named, 'ocr-cls', 'inference_calls'],
        [foreign, null, 'inference_calls'],
        [deleted, null, 'inference_calls'],
        [null, null, 'gpu_t4_minutes'],
      ]),
    );
    expect(await lines('notebook')).toEqual([
      [notebookId, 'lab', 'gpu_t4_minutes'],
      [null, null, 'inference_calls'],
    ]);
    for (const groupBy of ['meter', 'day'])
      for (const [, name] of await lines(groupBy)) expect(name).toBeNull();
  });

  it('computes the upcoming invoice: Pro + 12,345 calls + 90 T4 minutes = $213.15', async () => {
    const { owner } = await proOrgWithUsage();
    const res = await call('GET', '/v1/billing/invoices/upcoming', owner.accessToken);
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({
      orgId: owner.orgId,
      plan: 'pro',
      periodStart: iso(month.start),
      periodEnd: iso(month.end),
      currency: 'usd',
      subtotalUsd: '213.145',
      totalCents: 21_315,
    });
    expect(res.json.lines).toHaveLength(7);
    expect(res.json.lines[0]).toMatchObject({ meter: null, quantity: 1, amountUsd: '199' });
  });

  it('shows the month so far against the plan', async () => {
    const { owner } = await proOrgWithUsage();
    await call('POST', '/v1/models', owner.accessToken, { name: 'one' });
    const res = await call('GET', '/v1/billing/stats', owner.accessToken);
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({
      orgId: owner.orgId,
      plan: 'pro',
      periodStart: iso(month.start),
      calls: { used: 12_345, monthlyQuota: 100_000 },
      models: { count: 1, limit: 10 },
      spend: { baseFeeUsd: '199', usageUsd: '14.145', totalCents: 21_315 },
    });
  });

  it('answers 400 in the envelope to periods that are reversed, too long, starting after now or not dates', async () => {
    const owner = await t.client.register('owner');
    const cases: [string, string][] = [
      ['from=2026-03-01&to=2026-02-01', 'to'],
      ['from=2026-03-01&to=2026-03-01', 'to'],
      ['from=2025-01-01&to=2026-01-03', 'to'],
      [`from=${iso(Date.now() + 24 * HOUR)}`, 'from'],
      [`from=${iso(Date.now() - 400 * 24 * HOUR)}`, 'from'],
      ['from=yesterday&to=2026-03-01', 'from'],
      ['from=2026-02-30&to=2026-03-01', 'from'],
      ['groupBy=key', 'groupBy'],
    ];
    for (const [query, field] of cases) {
      const res = await call('GET', `/v1/billing/usage?${query}`, owner.accessToken);
      expect(res.status, query).toBe(400);
      expect(res.json.error.code).toBe('validation_failed');
      expect(
        res.json.error.details.map((d: { path: string }) => d.path),
        query,
      ).toContain(field);
    }
    const year = await call('GET', '/v1/billing/usage?from=2025-01-01&to=2026-01-02', owner.accessToken);
    expect(year.status, year.text).toBe(200);
  });

  it('runs a period given only its start to now, and one given only its end from the first of that month', async () => {
    const owner = await t.client.register('owner');
    const from = iso(Date.now() - 48 * HOUR);
    const started = await call('GET', `/v1/billing/usage?from=${from}`, owner.accessToken);
    expect(started.status, started.text).toBe(200);
    expect(started.json.from).toBe(from);
    expect(Math.abs(Date.parse(started.json.to) - Date.now())).toBeLessThan(60_000);
    const ended = await call('GET', '/v1/billing/usage?to=2026-03-15', owner.accessToken);
    expect(ended.json).toMatchObject({ from: '2026-03-01T00:00:00.000Z', to: '2026-03-15T00:00:00.000Z' });
    const monthEnd = await call('GET', '/v1/billing/usage?to=2026-03-01', owner.accessToken);
    expect(monthEnd.json).toMatchObject({ from: '2026-02-01T00:00:00.000Z', to: '2026-03-01T00:00:00.000Z' });
  });

  it('counts a period’s hours by their start: an explicit past period leaves this month out', async () => {
    const { owner } = await proOrgWithUsage();
    const before = iso(month.start - 24 * HOUR);
    const res = await call(
      'GET',
      `/v1/billing/usage?from=${before}&to=${iso(month.start)}`,
      owner.accessToken,
    );
    expect(res.json).toMatchObject({ lines: [], totalUsd: '0', totalCents: 0 });
  });

  describe('who may read and change billing', () => {
    let owner: Session;
    const tokens: Record<string, string> = {};
    beforeAll(async () => {
      owner = await t.client.register('owner');
      for (const role of ['admin', 'member', 'viewer']) {
        tokens[role] = (await t.client.joinOrg(owner, await t.client.register(role), role)).accessToken;
      }
      for (const scope of ['billing:read', 'models:read', 'admin']) {
        tokens[`${scope} key`] = (await t.client.createKey(owner, { scopes: [scope] })).secret;
      }
    });

    it('lets owners, admins and billing:read or admin keys read usage, stats and the invoice', async () => {
      const allowed = [owner.accessToken, tokens.admin, tokens['billing:read key'], tokens['admin key']];
      const refused = [tokens.member, tokens.viewer, tokens['models:read key']];
      for (const path of ['/v1/billing/usage', '/v1/billing/stats', '/v1/billing/invoices/upcoming']) {
        for (const token of allowed) expect((await call('GET', path, token)).status, path).toBe(200);
        for (const token of refused) {
          const res = await call('GET', path, token);
          expect(res.status, path).toBe(403);
          // A person is told the roles that may; a key, the scope it lacks.
          expect(res.json.error.message).toMatch(
            /needs the owner or admin role; you are a (member|viewer) here|it needs the billing:read or admin scope/,
          );
        }
        expect((await call('GET', path)).status).toBe(401);
      }
    });

    it('lets only owners and admin keys change the plan, and audits each change', async () => {
      for (const token of [tokens.admin, tokens.member, tokens['billing:read key']]) {
        const res = await call('PUT', '/v1/billing/plan', token, { plan: 'pro' });
        expect(res.status).toBe(403);
        expect(res.json.error.code).toBe('forbidden');
      }
      const up = await call('PUT', '/v1/billing/plan', owner.accessToken, { plan: 'pro' });
      expect(up.status, up.text).toBe(200);
      expect(up.json).toEqual({
        orgId: owner.orgId,
        plan: 'pro',
        previousPlan: 'free',
        monthlyFeeUsd: '199',
        limits: { monthlyCalls: 100_000, models: 10 },
        subscriptionRetried: false,
        usageBackfillRetried: false,
      });
      const again = await call('PUT', '/v1/billing/plan', owner.accessToken, { plan: 'pro' });
      expect(again.json).toMatchObject({ plan: 'pro', previousPlan: 'pro' });
      const byKey = await call('PUT', '/v1/billing/plan', tokens['admin key'], { plan: 'free' });
      expect(byKey.json).toMatchObject({ plan: 'free', previousPlan: 'pro' });

      const log = await call('GET', '/v1/audit-log?action=billing.plan_change', owner.accessToken);
      expect(log.json.items.map((e: { metadata: unknown }) => e.metadata)).toEqual([
        { from: 'pro', to: 'free' },
        { from: 'free', to: 'pro' },
      ]);
      const edge = await call('GET', `/internal/v1/orgs/${owner.orgId}`, t.edgeServiceToken);
      expect(edge.json).toMatchObject({ plan: 'free', monthlyCallQuota: 1000 });
    });

    it('refuses Enterprise, which is contracted, both to choose and to leave', async () => {
      const asked = await call('PUT', '/v1/billing/plan', owner.accessToken, { plan: 'enterprise' });
      expect(asked.status).toBe(400);
      expect(asked.json.error.details).toEqual([
        { path: 'plan', message: expect.stringContaining('contracted') },
      ]);

      await setOrgStanding(t.db, owner.orgId, { plan: 'enterprise' });
      const left = await call('PUT', '/v1/billing/plan', owner.accessToken, { plan: 'pro' });
      expect(left.status).toBe(409);
      expect(left.json.error).toMatchObject({
        code: 'conflict',
        message: expect.stringContaining('Enterprise'),
      });
      await setOrgStanding(t.db, owner.orgId, { plan: 'free' });
    });
  });

  describe('the plan’s model limit', () => {
    it('refuses a second model on Free with 403 naming the plan and the upgrade, then allows it on Pro', async () => {
      const owner = await t.client.register('owner');
      expect((await call('POST', '/v1/models', owner.accessToken, { name: 'first' })).status).toBe(201);
      const refused = await call('POST', '/v1/models', owner.accessToken, { name: 'second' });
      expect(refused.status).toBe(403);
      expect(refused.json).toEqual({
        error: {
          code: 'forbidden',
          message: expect.stringMatching(
            /^The Free plan allows 1 model and this organisation has 1\. Upgrade to Pro/,
          ),
          requestId: expect.any(String),
        },
      });
      expect(refused.json.error.message).toContain('`meridian plan set pro`');
      expect(refused.json.error.message).toContain('PUT /v1/billing/plan');
      const listed = await call('GET', '/v1/models', owner.accessToken);
      expect(listed.json.items).toHaveLength(1);

      await call('PUT', '/v1/billing/plan', owner.accessToken, { plan: 'pro' });
      expect((await call('POST', '/v1/models', owner.accessToken, { name: 'second' })).status).toBe(201);
    });

    it('stops Pro at 10 models and sets no limit on Enterprise', async () => {
      const owner = await t.client.register('owner');
      await call('PUT', '/v1/billing/plan', owner.accessToken, { plan: 'pro' });
      for (let i = 1; i <= 10; i++) {
        expect((await call('POST', '/v1/models', owner.accessToken, { name: `m${i}` })).status).toBe(201);
      }
      const eleventh = await call('POST', '/v1/models', owner.accessToken, { name: 'm11' });
      expect(eleventh.status).toBe(403);
      expect(eleventh.json.error.message).toMatch(/^The Pro plan allows 10 models .*Enterprise/);

      await setOrgStanding(t.db, owner.orgId, { plan: 'enterprise' });
      expect((await call('POST', '/v1/models', owner.accessToken, { name: 'm11' })).status).toBe(201);
    });
  });
});
