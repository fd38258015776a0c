import { billingWindow } from '@meridian/protocol';
import { sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { orgStorage } from '../../db/schema.js';
import { storageEntry } from './entries.js';
import { appendLedgerEntries, type LedgerEntry } from './ledger.js';

const HOUR_MS = 3_600_000;
/** How far back a sample reaches after a long outage: a month of hours. */
export const MAX_STORAGE_HOURS_BACK = 24 * 31;

/**
 * Turns stored bytes into byte-hours. For every org with an `org_storage` row, writes one ledger entry
 * (`storage:<orgId>:<hourStartMs>`) per whole UTC hour that has ended since the org's last sampled hour,
 * at most MAX_STORAGE_HOURS_BACK hours back. An org never sampled starts at the hour of its last storage
 * change: its bytes are known to have been what they are since then.
 *
 * Approximation: an hour is billed at the bytes held when it is sampled (normally within a minute of the
 * hour's end), not at the bytes held through it; hours missed during an outage are billed at the bytes
 * held when sampling resumes. Hours with zero bytes are written too (as zero), so that they count as
 * sampled and bytes stored later are not billed back over them. Rerunning adds nothing: the ids repeat.
 */
export async function sampleStorage(
  db: Database,
  now = Date.now(),
): Promise<{ orgs: number; entries: number }> {
  const end = billingWindow(now);
  const oldest = end - MAX_STORAGE_HOURS_BACK * HOUR_MS;
  // One index seek per org (ledger_org_meter_window) for the last hour it was sampled. Written out in SQL:
  // drizzle leaves the columns of a one-table select unqualified, which would not correlate.
  const lastSampled = sql<number | null>`(
    select max(l.window_start) from ledger_entries l
    where l.org_id = org_storage.org_id and l.meter = 'storage_mb_hours')`;
  const rows = await db
    .select({
      orgId: orgStorage.orgId,
      modelBytes: orgStorage.modelBytes,
      artifactBytes: orgStorage.artifactBytes,
      updatedAt: orgStorage.updatedAt,
      last: lastSampled,
    })
    .from(orgStorage);
  let written = 0;
  for (const row of rows) {
    const next = row.last === null ? billingWindow(row.updatedAt.getTime()) : Number(row.last) + HOUR_MS;
    const entries: LedgerEntry[] = [];
    for (let hour = Math.max(next, oldest); hour < end; hour += HOUR_MS) {
      entries.push(storageEntry(row.orgId, hour, row.modelBytes + row.artifactBytes));
    }
    // In hour order, so an interrupted run leaves a prefix and the next one resumes after its last hour.
    await appendLedgerEntries(db, entries);
    written += entries.length;
  }
  return { orgs: rows.length, entries: written };
}
