import type { UsageRecord } from '@meridian/protocol';
import { asc, count, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type Session } from '../../testing/test-app.js';
import { edgeUsage, edgeUsageBatches, usageIdempotencyKeys } from '../db/schema.js';
import { IDEMPOTENCY_WINDOW_MS } from '../services/usage/idempotency-keys.js';

type TestApp = Awaited<ReturnType<typeof createTestApp>>;

const USAGE = '/internal/v1/usage';
let batches = 0;
const nextBatchId = () => {
  batches += 1;
  return `edge-ams:${Date.now()}:${batches}`;
};

describe('edge usage ingest', () => {
  let t: TestApp;
  let owner: Session;

  beforeAll(async () => {
    t = await createTestApp();
    owner = await t.client.register('owner');
  });
  afterAll(() => t.cleanup());

  const record = (overrides: Partial<UsageRecord> = {}): UsageRecord => ({
    orgId: owner.orgId,
    keyId: 'key_01jcx0000000000000000000ab',
    userId: null,
    deploymentId: 'dep_01jcx0000000000000000000ab',
    minute: '2026-11-23T14:05:00Z',
    calls: 12,
    bytesIn: 3400,
    bytesOut: 560,
    ...overrides,
  });
  const send = (body: unknown) => t.client.call('POST', USAGE, { token: t.edgeServiceToken, body });
  const counts = async () => ({
    batches: (await t.db.select({ n: count() }).from(edgeUsageBatches))[0]?.n,
    records: (await t.db.select({ n: count() }).from(edgeUsage))[0]?.n,
  });

  it('shows a key used only at the edge as used, at the latest minute its batches saw it', async () => {
    const key = await t.client.createKey(owner, { scopes: ['predict'] });
    const lastUsed = async () => {
      const res = await t.client.call('GET', '/v1/api-keys', { token: owner.accessToken });
      return (res.json.items as { id: string; lastUsedAt: string | null }[]).find((k) => k.id === key.id)
        ?.lastUsedAt;
    };
    expect(await lastUsed()).toBeNull();
    const at = (m: string) => record({ keyId: key.id, minute: m });
    await send({ batchId: nextBatchId(), records: [at('2026-11-23T14:05:00Z'), at('2026-11-23T14:07:00Z')] });
    expect(await lastUsed()).toBe('2026-11-23T14:07:00.000Z');
    // A late batch of earlier minutes leaves it where it is.
    await send({ batchId: nextBatchId(), records: [at('2026-11-23T14:01:00Z')] });
    expect(await lastUsed()).toBe('2026-11-23T14:07:00.000Z');
  });

  it('stores every record of a batch, keyed by batch and index, minutes as times', async () => {
    const batchId = nextBatchId();
    const records = [
      record(),
      record({ keyId: null, userId: owner.userId, minute: '2026-11-23T14:06:00.000Z', calls: 1 }),
    ];
    const res = await send({ batchId, records });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toEqual({ batchId, accepted: true });

    const [batch] = await t.db.select().from(edgeUsageBatches).where(eq(edgeUsageBatches.batchId, batchId));
    expect(batch?.recordCount).toBe(2);
    const rows = await t.db
      .select()
      .from(edgeUsage)
      .where(eq(edgeUsage.batchId, batchId))
      .orderBy(asc(edgeUsage.idx));
    expect(rows).toEqual([
      {
        batchId,
        idx: 0,
        orgId: owner.orgId,
        keyId: 'key_01jcx0000000000000000000ab',
        userId: null,
        deploymentId: 'dep_01jcx0000000000000000000ab',
        minute: new Date('2026-11-23T14:05:00Z'),
        calls: 12,
        bytesIn: 3400,
        bytesOut: 560,
      },
      expect.objectContaining({
        idx: 1,
        keyId: null,
        userId: owner.userId,
        minute: new Date('2026-11-23T14:06:00Z'),
        calls: 1,
      }),
    ]);
  });

  it('answers accepted: false to a batch sent again, and stores nothing more', async () => {
    const batch = { batchId: nextBatchId(), records: [record(), record({ calls: 3 })] };
    expect((await send(batch)).json.accepted).toBe(true);
    const before = await counts();
    for (const replay of [batch, { ...batch, records: [record({ calls: 999 })] }]) {
      const res = await send(replay);
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ batchId: batch.batchId, accepted: false });
    }
    expect(await counts()).toEqual(before);
  });

  it('bills a call with an Idempotency-Key once per org, however many batches and records name it', async () => {
    const keyed = (key: string, over: Partial<UsageRecord> = {}) =>
      record({ calls: 1, idempotencyKey: key, ...over });
    const stored = async (batchId: string) =>
      (await t.db.select().from(edgeUsage).where(eq(edgeUsage.batchId, batchId))).map((r) => r.calls);
    const first = nextBatchId();
    // A retry that reached the same agent, in the same batch: the first record bills.
    const a = await send({ batchId: first, records: [keyed('k-1'), keyed('k-2'), keyed('k-1'), record()] });
    expect(a.status, JSON.stringify(a.json)).toBe(200);
    expect(await stored(first)).toEqual([1, 1, 12]);
    // Served again elsewhere (another agent, the edge's cache), and two such batches racing.
    const [second, third] = [nextBatchId(), nextBatchId()];
    await Promise.all([
      send({ batchId: second, records: [keyed('k-1'), keyed('k-3')] }),
      send({ batchId: third, records: [keyed('k-3'), keyed('k-2')] }),
    ]);
    expect([...(await stored(second)), ...(await stored(third))]).toEqual([1]);
    // Keys are the org's own: another org's k-1 is another call.
    const other = await t.client.register('other-keys');
    const fourth = nextBatchId();
    await send({ batchId: fourth, records: [keyed('k-1', { orgId: other.orgId })] });
    expect(await stored(fourth)).toEqual([1]);
  });

  it('forgets a billed key after its window, and refuses a keyed record of more than one call', async () => {
    const old = new Date(Date.now() - IDEMPOTENCY_WINDOW_MS - 1000);
    await t.db
      .insert(usageIdempotencyKeys)
      .values({ orgId: owner.orgId, idempotencyKey: 'k-old', batchId: 'b-old', billedAt: old });
    const batchId = nextBatchId();
    await send({ batchId, records: [record({ calls: 1, idempotencyKey: 'k-old' })] });
    const rows = await t.db.select().from(edgeUsage).where(eq(edgeUsage.batchId, batchId));
    expect(rows.map((r) => r.calls)).toEqual([1]);
    const bad = await send({
      batchId: nextBatchId(),
      records: [record({ calls: 2, idempotencyKey: 'k-x' })],
    });
    expect(bad.status).toBe(400);
    const spaced = await send({
      batchId: nextBatchId(),
      records: [record({ calls: 1, idempotencyKey: 'a b' })],
    });
    expect(spaced.status).toBe(400);
  });

  it('accepts exactly one of two concurrent sends of one batch', async () => {
    const batch = {
      batchId: nextBatchId(),
      records: Array.from({ length: 300 }, (_, i) => record({ calls: i + 1 })),
    };
    const before = await counts();
    const replies = await Promise.all([send(batch), send(batch)]);
    expect(replies.map((r) => r.status)).toEqual([200, 200]);
    expect(replies.map((r) => r.json.accepted).sort()).toEqual([false, true]);
    const after = await counts();
    expect(after.batches).toBe((before.batches ?? 0) + 1);
    expect(after.records).toBe((before.records ?? 0) + 300);
  });

  it('stores nothing of a batch that fails part-way, so its retry is accepted whole', async () => {
    // A trigger fails the insert of record 150, after the first statements of the batch went through.
    await t.db.run(
      sql.raw(`CREATE TRIGGER fail_mid_batch BEFORE INSERT ON edge_usage WHEN NEW.idx = 150
        BEGIN SELECT RAISE(ABORT, 'simulated failure'); END`),
    );
    const batch = { batchId: nextBatchId(), records: Array.from({ length: 200 }, () => record()) };
    const before = await counts();
    const failed = await send(batch);
    expect(failed.status).toBe(500);
    expect(failed.json.error.code).toBe('internal');
    expect(await counts()).toEqual(before);

    await t.db.run(sql.raw('DROP TRIGGER fail_mid_batch'));
    expect((await send(batch)).json).toEqual({ batchId: batch.batchId, accepted: true });
    const after = await counts();
    expect(after.records).toBe((before.records ?? 0) + 200);
  });

  it('stores records of orgs that do not exist: usage is a fact, billing decides', async () => {
    const batchId = nextBatchId();
    const res = await send({ batchId, records: [record({ orgId: 'org_00000000000000000000000000' })] });
    expect(res.json).toEqual({ batchId, accepted: true });
    const rows = await t.db.select().from(edgeUsage).where(eq(edgeUsage.batchId, batchId));
    expect(rows.map((r) => r.orgId)).toEqual(['org_00000000000000000000000000']);
  });

  it('stores the largest batch the protocol allows, past the app’s 1 MB JSON limit', async () => {
    const long = (prefix: string) => prefix.padEnd(64, 'x');
    const records = Array.from({ length: 5000 }, (_, i) =>
      record({
        orgId: long('org_'),
        keyId: long('key_'),
        userId: long('usr_'),
        deploymentId: long('dep_'),
        calls: 1_000_000_000,
        bytesIn: Number.MAX_SAFE_INTEGER - i,
        bytesOut: Number.MAX_SAFE_INTEGER,
      }),
    );
    const batch = { batchId: nextBatchId(), records };
    expect(JSON.stringify(batch).length).toBeGreaterThan(2_000_000);
    const res = await send(batch);
    expect(res.status, res.text.slice(0, 300)).toBe(200);
    expect(res.json.accepted).toBe(true);
    const rows = await t.db
      .select({ idx: edgeUsage.idx, bytesIn: edgeUsage.bytesIn })
      .from(edgeUsage)
      .where(eq(edgeUsage.batchId, batch.batchId))
      .orderBy(asc(edgeUsage.idx));
    expect(rows).toHaveLength(5000);
    const last = rows[4999];
    expect(last).toMatchObject({ idx: 4999, bytesIn: Number.MAX_SAFE_INTEGER - 4999 });
  });

  it('refuses anyone without the edge token and stores nothing', async () => {
    const before = await counts();
    for (const token of [undefined, 'wrong', t.operatorToken, owner.accessToken]) {
      const res = await t.client.call('POST', USAGE, {
        ...(token ? { token } : {}),
        body: { batchId: nextBatchId(), records: [record()] },
      });
      expect(res.status, String(token)).toBe(401);
      expect(res.json.error).toEqual(expect.objectContaining({ code: 'unauthenticated' }));
    }
    expect(await counts()).toEqual(before);
  });

  it('answers 400 with details to malformed batches, storing none of them', async () => {
    const before = await counts();
    const bad: [string, unknown][] = [
      ['no records', { batchId: nextBatchId(), records: [] }],
      ['too many records', { batchId: nextBatchId(), records: Array.from({ length: 5001 }, () => record()) }],
      ['a batch id with a space', { batchId: 'edge 1', records: [record()] }],
      ['zero calls', { batchId: nextBatchId(), records: [record({ calls: 0 })] }],
      ['fractional bytes', { batchId: nextBatchId(), records: [record({ bytesIn: 1.5 })] }],
      [
        'a minute with seconds',
        { batchId: nextBatchId(), records: [record({ minute: '2026-11-23T14:05:07Z' })] },
      ],
      [
        'a minute with an offset',
        { batchId: nextBatchId(), records: [record({ minute: '2026-11-23T14:05:00+01:00' })] },
      ],
      [
        'a day February lacks',
        { batchId: nextBatchId(), records: [record(), record({ minute: '2026-02-30T00:00:00Z' })] },
      ],
      ['hour 24', { batchId: nextBatchId(), records: [record({ minute: '2026-11-23T24:00:00Z' })] }],
      ['no org', { batchId: nextBatchId(), records: [{ ...record(), orgId: undefined }] }],
      ['an unknown field', { batchId: nextBatchId(), records: [{ ...record(), region: 'ams' }] }],
    ];
    for (const [label, body] of bad) {
      const res = await send(body);
      expect(res.status, `${label}: ${res.text.slice(0, 200)}`).toBe(400);
      expect(res.json.error).toEqual(
        expect.objectContaining({
          code: 'validation_failed',
          details: expect.arrayContaining([{ path: expect.any(String), message: expect.any(String) }]),
        }),
      );
    }
    const february = await send({
      batchId: nextBatchId(),
      records: [record({ minute: '2026-02-30T00:00:00Z' })],
    });
    expect(february.json.error.details).toEqual([
      { path: 'records.0.minute', message: 'not a real UTC minute' },
    ]);
    expect(await counts()).toEqual(before);
  });
});
