import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { UsageBatch, UsageRecord } from '@meridian/protocol';
import { sql } from 'drizzle-orm';
import { openDatabase } from '../control-plane/src/db/client.js';
import { ledgerEntries } from '../control-plane/src/db/schema.js';
import { usageByWindow } from '../control-plane/src/services/billing/windows.js';
import { recordEdgeUsage } from '../control-plane/src/services/usage/edge-usage.js';

/**
 * How fast does a month's worth of prediction usage go into the ledger, and what does the Stripe push
 * make of it? Edge batches carrying 1,000,000 calls from 1,000 API keys (10 records each, one per
 * deployment-minute) go through recordEdgeUsage on a real libsql file, in batches of at most 5,000
 * records as the edge sends them; then usageByWindow, the aggregation the Stripe push sends, turns the
 * ledger into one meter event per (org, meter, hour). Targets: ingest ≤ 5 s; at most one event per
 * (org, meter, window); ledger total = sum of event values = 1,000,000 exactly; a replay adds nothing.
 *
 *   npx tsx bench/billing-ingest.ts [--keys 1000] [--per-key 10] [--orgs 100] [--batch 5000]
 */
const TARGET_INGEST_S = 5;
const TOTAL_CALLS = 1_000_000;
const START = Date.UTC(2026, 0, 5, 10);
const MINUTE = 60_000;

const { values: flags } = parseArgs({
  options: {
    keys: { type: 'string', default: '1000' },
    'per-key': { type: 'string', default: '10' },
    orgs: { type: 'string', default: '100' },
    batch: { type: 'string', default: '5000' },
  },
});
const keys = whole('keys', flags.keys);
const perKey = whole('per-key', flags['per-key']);
const orgCount = whole('orgs', flags.orgs);
const batchSize = Math.min(5000, whole('batch', flags.batch));
if ((TOTAL_CALLS / (keys * perKey)) % 1 !== 0) throw new Error('keys × per-key must divide 1,000,000');

function whole(name: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive integer`);
  return value;
}

/**
 * Key k belongs to org k mod orgs and calls deployment (k + j) mod 10 of it in minute 13·j + k mod 180
 * (three hours). Calls alternate above and below the mean, so each key's records add up to its share.
 */
function records(): UsageRecord[] {
  const mean = TOTAL_CALLS / (keys * perKey);
  const out: UsageRecord[] = [];
  for (let k = 0; k < keys; k++) {
    const org = `org_bench${String(k % orgCount).padStart(21, '0')}`;
    for (let j = 0; j < perKey; j++) {
      const swing = ((k * 31 + Math.floor(j / 2)) % Math.max(1, mean - 1)) * (j % 2 === 0 ? 1 : -1);
      const calls = perKey % 2 === 1 && j === perKey - 1 ? mean : mean + swing;
      out.push({
        orgId: org,
        keyId: `key_bench${String(k).padStart(21, '0')}`,
        userId: null,
        deploymentId: `dep_bench${String(k % orgCount).padStart(19, '0')}_${(k + j) % 10}`,
        minute: new Date(START + ((13 * j + k) % 180) * MINUTE).toISOString(),
        calls,
        bytesIn: 512,
        bytesOut: 128,
      });
    }
  }
  return out;
}

const all = records();
const batches: UsageBatch[] = [];
for (let i = 0; i < all.length; i += batchSize) {
  batches.push({ batchId: `edge-bench:${i / batchSize}`, records: all.slice(i, i + batchSize) });
}
const dir = mkdtempSync(join(tmpdir(), 'meridian-billing-bench-'));
const { db, close } = await openDatabase(`file:${join(dir, 'bench.db')}`);
try {
  const ingestStart = performance.now();
  for (const batch of batches) await recordEdgeUsage(db, batch);
  const ingestS = (performance.now() - ingestStart) / 1000;

  const ledgerTotal = async () =>
    (await db.select({ n: sql<number>`sum(${ledgerEntries.quantity})` }).from(ledgerEntries))[0]?.n ?? 0;
  const totalAfterIngest = await ledgerTotal();

  const aggregateStart = performance.now();
  const events = await usageByWindow(db, { from: START - 3_600_000, to: START + 24 * 3_600_000 });
  const aggregateMs = performance.now() - aggregateStart;
  const eventSum = events.reduce((n, e) => n + e.billableQuantity, 0);
  const distinct = new Set(events.map((e) => `${e.orgId} ${e.meter} ${e.windowStart}`)).size;
  const expectedWindows = new Set(
    all.map((r) => `${r.orgId} ${Math.floor(Date.parse(r.minute) / 3_600_000)}`),
  ).size;

  const replayStart = performance.now();
  const replayed = await Promise.all(batches.map((b) => recordEdgeUsage(db, b)));
  const replayS = (performance.now() - replayStart) / 1000;
  const totalAfterReplay = await ledgerTotal();

  const ok = (pass: boolean) => (pass ? 'met' : 'NOT met');
  const rows: [string, string, string, string][] = [
    ['figure', 'measured', 'target', ''],
    [
      `ingest ${all.length.toLocaleString('en')} records in ${batches.length} batches`,
      `${ingestS.toFixed(2)} s`,
      `≤ ${TARGET_INGEST_S} s`,
      ok(ingestS <= TARGET_INGEST_S),
    ],
    [
      'meter events (org, meter, hour)',
      `${events.length.toLocaleString('en')}`,
      `≤ ${expectedWindows.toLocaleString('en')} (one per org, meter, window)`,
      ok(events.length === distinct && events.length <= expectedWindows),
    ],
    ['aggregation time', `${aggregateMs.toFixed(0)} ms`, '', ''],
    [
      'ledger total = sum of event values',
      `${totalAfterIngest.toLocaleString('en')} = ${eventSum.toLocaleString('en')}`,
      '1,000,000 = 1,000,000',
      ok(totalAfterIngest === TOTAL_CALLS && eventSum === TOTAL_CALLS),
    ],
    [
      'replay of every batch',
      `${replayed.filter((a) => a.accepted).length} accepted, total ${totalAfterReplay.toLocaleString('en')}, ${replayS.toFixed(2)} s`,
      '0 accepted, total unchanged',
      ok(replayed.every((a) => !a.accepted) && totalAfterReplay === totalAfterIngest),
    ],
  ];
  console.log(
    `${keys.toLocaleString('en')} keys in ${orgCount} orgs × ${perKey} deployment-minutes; ` +
      `libsql file ${join(dir, 'bench.db')}`,
  );
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]?.length ?? 0)));
  for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  '));
} finally {
  close();
  rmSync(dir, { recursive: true, force: true });
}
