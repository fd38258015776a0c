import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { silentLogger } from '../gpu-agent/src/agent/logger.js';
import { UsageJournal } from '../gpu-agent/src/agent/usage-journal.js';

/**
 * What recording a served call costs the agent's data plane before its 200 leaves: the usage journal's
 * group commit, with and without fdatasync, at 1 and 64 concurrent callers. Each caller records a call,
 * waits for it to be durable, and records the next (as served requests do). Reference: a resolved promise.
 *   npx tsx bench/usage-journal.ts [--duration 3] [--dir /path/on/the/agent/disk]
 */
const { values } = parseArgs({
  options: { duration: { type: 'string', default: '3' }, dir: { type: 'string' } },
});
const durationMs = Number(values.duration) * 1000;
const call = {
  orgId: 'org_01jcx0000000000000000000ab',
  keyId: 'key_01jcx0000000000000000000ab',
  userId: null,
  deploymentId: 'dep_01jcx0000000000000000000ab',
  bytesIn: 110_000,
  bytesOut: 80,
};

type Row = {
  cell: string;
  calls: number;
  perSecond: number;
  p50Us: number;
  p99Us: number;
  callsPerWrite: number;
};

async function cell(
  name: string,
  callers: number,
  record: () => Promise<void>,
  writes: () => number,
): Promise<Row> {
  const latencies: number[] = [];
  const startWrites = writes();
  const end = performance.now() + durationMs;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        await record();
        latencies.push((performance.now() - t0) * 1000);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0);
  const w = writes() - startWrites;
  return {
    cell: `${name} c=${callers}`,
    calls: latencies.length,
    perSecond: Math.round(latencies.length / (durationMs / 1000)),
    p50Us: at(0.5),
    p99Us: at(0.99),
    callsPerWrite: w === 0 ? 0 : Math.round((latencies.length / w) * 10) / 10,
  };
}

const base = values.dir ?? tmpdir();
const rows: Row[] = [];
for (const callers of [1, 64]) {
  rows.push(
    await cell(
      'reference (resolved promise)',
      callers,
      () => Promise.resolve(),
      () => 0,
    ),
  );
  for (const fsync of [false, true]) {
    const dir = await mkdtemp(join(base, 'journal-bench-'));
    const journal = await UsageJournal.open(dir, { fsync, log: silentLogger });
    rows.push(
      await cell(
        fsync ? 'journal + fdatasync' : 'journal (write only)',
        callers,
        () => journal.record(call),
        () => journal.stats.writes,
      ),
    );
    await journal.close();
    await rm(dir, { recursive: true, force: true });
  }
}
console.table(rows);
