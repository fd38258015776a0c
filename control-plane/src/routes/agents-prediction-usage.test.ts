import type { UsageRecord } from '@meridian/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueBootstrapToken, sampleRegistration } from '../../testing/agents.js';
import { deployedModel, fakeAgent, testScheduler } from '../../testing/scheduler.js';
import { createTestApp, type Session } from '../../testing/test-app.js';
import { agentDataPlaneKey } from '../lib/data-plane-keys.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

const minuteAgo = () => new Date(Math.floor(Date.now() / 60_000) * 60_000 - 60_000);
const minute = (d: Date) => d.toISOString().replace('.000Z', 'Z');

describe('prediction usage reported by agents', () => {
  let t: TestApp;
  let owner: Session;
  let stranger: Session;
  let key: { id: string; secret: string };
  let strangerKey: { id: string; secret: string };
  let placed: Awaited<ReturnType<typeof fakeAgent>>;
  let other: { agentId: string; credential: string };
  let placedCredential = '';
  let depId = '';

  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('owner');
    stranger = await t.client.register('stranger');
    key = await t.client.createKey(owner, { scopes: ['predict'] });
    strangerKey = await t.client.createKey(stranger, { scopes: ['predict'] });
    // The agent the scheduler places the deployment on, and one it does not.
    const token = await issueBootstrapToken(t);
    const reg = await t.client.call('POST', '/agent/v1/register', { body: sampleRegistration(token) });
    other = { agentId: reg.json.agentId, credential: reg.json.credential };
    await t.client.call('POST', `/internal/v1/agents/${other.agentId}/drain`, {
      token: t.operatorToken,
    });
    placed = await fakeAgent(t);
    placedCredential = placed.credential;
    const dep = await deployedModel(t, owner, { replicas: 1 });
    depId = dep.id;
    await testScheduler(t).tick();
    // Telling the agent what to run is what makes the deployment billable by it.
    expect((await placed.desired()).workloads.map((w) => w.kind === 'model' && w.deploymentId)).toContain(
      depId,
    );
  }, 60_000);
  afterAll(() => t.cleanup());

  const record = (over: Partial<UsageRecord> = {}): UsageRecord => ({
    orgId: owner.orgId,
    keyId: key.id,
    userId: null,
    deploymentId: depId,
    minute: minute(minuteAgo()),
    calls: 7,
    bytesIn: 70,
    bytesOut: 140,
    ...over,
  });
  const report = (credential: string, seq: number, records: UsageRecord[], part = 0) =>
    t.client.call('POST', '/agent/v1/prediction-usage', { token: credential, body: { seq, part, records } });
  const callsBilled = async () => {
    const res = await t.client.call('GET', '/v1/billing/usage?groupBy=deployment', {
      token: owner.accessToken,
    });
    expect(res.status, res.text).toBe(200);
    const lines = (res.json.lines as { key: string; meter: string; rawQuantity: number }[]).filter(
      (l) => l.key === depId && l.meter === 'inference_calls',
    );
    return lines.reduce((n, l) => n + l.rawQuantity, 0);
  };

  it('bills the calls of a report once, however often it is sent, and moves the key’s last use on', async () => {
    const lastUsed = async () => {
      const keys = await t.client.call('GET', '/v1/api-keys', { token: owner.accessToken });
      return (keys.json.items as { id: string; lastUsedAt: string | null }[]).find((k) => k.id === key.id)
        ?.lastUsedAt;
    };
    expect(await lastUsed()).toBeNull();
    const first = await report(placedCredential, 1, [record()]);
    expect(first.status, first.text).toBe(200);
    expect(first.json).toEqual({ seq: 1, part: 0, accepted: true, stored: 1, refused: 0 });
    const again = await report(placedCredential, 1, [record()]);
    expect(again.json).toEqual({ seq: 1, part: 0, accepted: false, stored: 0, refused: 0 });
    expect(await callsBilled()).toBe(7);
    expect(await lastUsed()).toBe(minuteAgo().toISOString());
    // A late batch of an older minute never moves it back.
    await report(placedCredential, 9, [
      record({ minute: minute(new Date(minuteAgo().getTime() - 3_600_000)) }),
    ]);
    expect(await lastUsed()).toBe(minuteAgo().toISOString());
  });

  it('refuses what the agent may not bill: another org, another org’s key, a deployment not placed on it', async () => {
    const before = await callsBilled();
    const res = await report(placedCredential, 2, [
      record({ calls: 1 }),
      record({ orgId: stranger.orgId, keyId: strangerKey.id }),
      record({ keyId: strangerKey.id }),
      record({ keyId: null, userId: null }),
      record({ deploymentId: 'dep_not_placed' }),
    ]);
    expect(res.json).toMatchObject({ accepted: true, stored: 1, refused: 4 });
    const fromOther = await report(other.credential, 1, [record({ calls: 100 })]);
    expect(fromOther.json).toMatchObject({ stored: 0, refused: 1 });
    expect(await callsBilled()).toBe(before + 1);
    const strangerUsage = await t.client.call('GET', '/v1/billing/usage', { token: stranger.accessToken });
    expect(strangerUsage.json.lines).toEqual([]);
  });

  it('answers 401 without the agent credential and 400 to a malformed report', async () => {
    expect((await report('mac_wrong', 3, [record()])).status).toBe(401);
    expect((await report(placedCredential, 0, [record()])).status).toBe(400);
    expect((await report(placedCredential, 3, [])).status).toBe(400);
    expect((await report(placedCredential, 3, [record({ minute: '2026-11-23T14:05:30Z' })])).status).toBe(
      400,
    );
  });

  it('hands an agent a new data-plane key on rotation, through its desired state and the routing snapshot', async () => {
    const before = await placed.desired();
    expect(before.dataPlaneKey).toEqual(agentDataPlaneKey(t.dataPlaneSigningKey, placed.agentId, 1));
    const rotated = await t.client.call(
      'POST',
      `/internal/v1/agents/${placed.agentId}/data-plane-key/rotate`,
      {
        token: t.operatorToken,
      },
    );
    expect(rotated.json).toEqual({ agentId: placed.agentId, generation: 2 });
    const after = await placed.desired();
    expect(after.version).toBeGreaterThan(before.version);
    expect(after.dataPlaneKey).toEqual(agentDataPlaneKey(t.dataPlaneSigningKey, placed.agentId, 2));
    // The edge learns the generation per replica from the routing snapshot, and derives the key itself.
    await placed.report('ready');
    await testScheduler(t).tick();
    const routing = await t.client.call('GET', '/internal/v1/routing', { token: t.edgeServiceToken });
    const replicas = (
      routing.json.deployments as { deploymentId: string; versions: { replicas: unknown[] }[] }[]
    )
      .find((d) => d.deploymentId === depId)
      ?.versions.flatMap((v) => v.replicas);
    expect(replicas).toEqual([expect.objectContaining({ agentId: placed.agentId, keyGeneration: 2 })]);
    expect(routing.text).not.toContain(t.dataPlaneSigningKey);
    expect(
      (
        await t.client.call('POST', '/internal/v1/agents/agt_nope/data-plane-key/rotate', {
          token: t.operatorToken,
        })
      ).status,
    ).toBe(404);
    expect(
      (await t.client.call('POST', `/internal/v1/agents/${placed.agentId}/data-plane-key/rotate`, {})).status,
    ).toBe(401);
  });
});
