import { appendFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from './logger.js';
import { type ServedCall, UsageJournal } from './usage-journal.js';

const call = (over: Partial<ServedCall> = {}): ServedCall => ({
  orgId: 'org_a',
  keyId: 'key_a',
  userId: null,
  deploymentId: 'dep_a',
  bytesIn: 10,
  bytesOut: 20,
  ...over,
});
const MINUTE = Date.parse('2026-11-23T14:05:17Z');

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'journal-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const open = (now = () => MINUTE) => UsageJournal.open(dir, { log: silentLogger, now });
const totalCalls = async (j: UsageJournal) =>
  (await j.unacknowledged()).flatMap((r) => r.records).reduce((n, r) => n + r.calls, 0);

describe('UsageJournal', () => {
  it('writes the calls completed in one event-loop turn with one append', async () => {
    const j = await open();
    await Promise.all(Array.from({ length: 200 }, () => j.record(call())));
    expect(j.stats).toEqual({ writes: 1, calls: 200 });
    await j.seal();
    const [report] = await j.unacknowledged();
    expect(report?.records).toEqual([
      {
        orgId: 'org_a',
        keyId: 'key_a',
        userId: null,
        deploymentId: 'dep_a',
        minute: '2026-11-23T14:05:00Z',
        calls: 200,
        bytesIn: 2000,
        bytesOut: 4000,
      },
    ]);
    await j.close();
  });

  it('keeps each call with an Idempotency-Key as a record of its own, and a key it already holds once', async () => {
    const j = await open();
    await j.record(call());
    await j.record(call({ idempotencyKey: 'k-1', bytesIn: 1 }));
    await j.record(call({ idempotencyKey: 'k-2' }));
    // The caller retried k-1 after a cut connection and reached this agent again: the same call.
    await j.record(call({ idempotencyKey: 'k-1', bytesIn: 2 }));
    await j.record(call());
    await j.seal();
    const records = (await j.unacknowledged()).flatMap((r) => r.records);
    const base = { orgId: 'org_a', keyId: 'key_a', userId: null, deploymentId: 'dep_a' };
    const minute = '2026-11-23T14:05:00Z';
    expect(records).toHaveLength(3);
    expect(records).toEqual(
      expect.arrayContaining([
        { ...base, minute, calls: 2, bytesIn: 20, bytesOut: 40 },
        { ...base, minute, calls: 1, bytesIn: 1, bytesOut: 20, idempotencyKey: 'k-1' },
        { ...base, minute, calls: 1, bytesIn: 10, bytesOut: 20, idempotencyKey: 'k-2' },
      ]),
    );
    await j.close();
  });

  it('gathers calls that arrive during a write into the next one: at most one write in flight', async () => {
    const j = await open();
    const waves: Promise<void>[] = [];
    for (let wave = 0; wave < 20; wave++) {
      for (let i = 0; i < 10; i++) waves.push(j.record(call({ deploymentId: `dep_${i % 3}` })));
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(waves);
    expect(j.stats.calls).toBe(200);
    expect(j.stats.writes).toBeLessThanOrEqual(20);
    await j.seal();
    expect(await totalCalls(j)).toBe(200);
    await j.close();
  });

  it('seals per (org, key, user, deployment, minute), keeps seq rising across restarts, and forgets acknowledged parts', async () => {
    let now = MINUTE;
    const j = await open(() => now);
    await j.record(call());
    await j.record(call({ keyId: null, userId: 'usr_a' }));
    now += 60_000;
    await j.record(call());
    await j.seal();
    const first = await j.unacknowledged();
    expect(first.map((r) => r.records.length)).toEqual([3]);
    await j.close();

    const again = await open(() => now);
    await again.record(call());
    await again.seal();
    const reports = await again.unacknowledged();
    expect(reports).toHaveLength(2);
    const [a, b] = reports;
    expect((b?.seq ?? 0) > (a?.seq ?? 0)).toBe(true);
    await again.acknowledge(a?.seq ?? 0, 0);
    expect((await again.unacknowledged()).map((r) => r.seq)).toEqual([b?.seq]);
    await again.acknowledge(b?.seq ?? 0, 0);
    await again.seal();
    expect(await again.unacknowledged()).toEqual([]);
    await again.close();
    const third = await open();
    await third.record(call());
    await third.seal();
    // Every generation was acknowledged and deleted; the stored counter still moves on.
    expect((await third.unacknowledged())[0]?.seq).toBeGreaterThan(b?.seq ?? 0);
    await third.close();
  });

  it('seals on restart what a killed process left in its journal, skipping only a torn last line', async () => {
    const j = await open();
    for (let i = 0; i < 5; i++) await j.record(call());
    // As kill -9 leaves it: no close, no seal, and half a line from a write cut short.
    const [name] = (await readdir(dir)).filter((n) => n.startsWith('journal-'));
    await appendFile(join(dir, name ?? ''), '{"orgId":"org_a","key');
    const restarted = await open();
    expect(await totalCalls(restarted)).toBe(5);
    await restarted.close();
    await j.close();
  });

  it('never counts a generation twice when the process died after sealing it and before deleting its journal', async () => {
    const j = await open();
    for (let i = 0; i < 3; i++) await j.record(call());
    const [name] = (await readdir(dir)).filter((n) => n.startsWith('journal-'));
    const lines = await readFile(join(dir, name ?? ''), 'utf8');
    await j.seal();
    await j.close();
    // Put the sealed journal back, as if the delete had not happened.
    await writeFile(join(dir, name ?? ''), lines);
    const restarted = await open();
    expect(await totalCalls(restarted)).toBe(3);
    expect((await readdir(dir)).filter((n) => n.startsWith('journal-'))).toHaveLength(1);
    await restarted.close();
  });

  it('cuts a large generation into parts of at most 5,000 records', async () => {
    const j = await open();
    await Promise.all(Array.from({ length: 5_001 }, (_, i) => j.record(call({ deploymentId: `dep_${i}` }))));
    await j.seal();
    expect((await j.unacknowledged()).map((r) => [r.part, r.records.length])).toEqual([
      [0, 5000],
      [1, 1],
    ]);
    await j.close();
  });
});
