import { type UsageBatch, UsageRecord } from '@meridian/protocol';

/** Most records the control plane takes in one batch (protocol UsageBatch). */
export const MAX_RECORDS_PER_BATCH = 5_000;

type OpenRow = {
  org_id: string;
  key_id: string;
  user_id: string;
  deployment_id: string;
  minute: string;
  calls: number;
  bytes_in: number;
  bytes_out: number;
};

type KeyedRow = Omit<OpenRow, 'calls'> & { idempotency_key: string };

/**
 * The usage buffer in the org limiter's SQLite storage, in two stages:
 * - open counters, one row per (key or user, deployment, UTC minute), added to on every successful call;
 *   a call with an Idempotency-Key is a row of its own instead (once per key), sealed as a record naming it
 *   so the control plane bills the key once, whether the edge's cache or an agent answered its retries;
 * - sealed batches, each with a stable id `<orgId>:<seq>`, kept until the control plane acknowledges them.
 * Sealing moves open rows into batches in one transaction, so a count is in exactly one place at a time.
 */
export class UsageStore {
  private readonly sql: SqlStorage;

  constructor(private readonly storage: DurableObjectStorage) {
    this.sql = storage.sql;
    // '' stands for "none" in key_id / user_id: SQLite treats NULLs as distinct in a primary key.
    this.sql.exec(`CREATE TABLE IF NOT EXISTS usage_open (
      org_id TEXT NOT NULL,
      key_id TEXT NOT NULL,
      user_id TEXT NOT NULL,
      deployment_id TEXT NOT NULL,
      minute TEXT NOT NULL,
      calls INTEGER NOT NULL,
      bytes_in INTEGER NOT NULL,
      bytes_out INTEGER NOT NULL,
      PRIMARY KEY (key_id, user_id, deployment_id, minute)
    )`);
    this.sql.exec(`CREATE TABLE IF NOT EXISTS usage_batches (
      seq INTEGER PRIMARY KEY,
      batch_id TEXT NOT NULL UNIQUE,
      records TEXT NOT NULL
    )`);
    this.sql.exec(`CREATE TABLE IF NOT EXISTS usage_keyed (
      idempotency_key TEXT PRIMARY KEY,
      org_id TEXT NOT NULL,
      key_id TEXT NOT NULL,
      user_id TEXT NOT NULL,
      deployment_id TEXT NOT NULL,
      minute TEXT NOT NULL,
      bytes_in INTEGER NOT NULL,
      bytes_out INTEGER NOT NULL
    )`);
    this.sql.exec('CREATE TABLE IF NOT EXISTS usage_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)');
  }

  /** Adds one successful call to its minute's open counter. */
  add(record: UsageRecord): void {
    const r = UsageRecord.parse(record);
    if (r.idempotencyKey !== undefined) {
      // A retry of a call this object already holds is the same call: kept once.
      this.sql.exec(
        `INSERT INTO usage_keyed
           (idempotency_key, org_id, key_id, user_id, deployment_id, minute, bytes_in, bytes_out)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING`,
        r.idempotencyKey,
        r.orgId,
        r.keyId ?? '',
        r.userId ?? '',
        r.deploymentId,
        r.minute,
        r.bytesIn,
        r.bytesOut,
      );
      return;
    }
    this.sql.exec(
      `INSERT INTO usage_open (org_id, key_id, user_id, deployment_id, minute, calls, bytes_in, bytes_out)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (key_id, user_id, deployment_id, minute) DO UPDATE SET
         calls = calls + excluded.calls,
         bytes_in = bytes_in + excluded.bytes_in,
         bytes_out = bytes_out + excluded.bytes_out`,
      r.orgId,
      r.keyId ?? '',
      r.userId ?? '',
      r.deploymentId,
      r.minute,
      r.calls,
      r.bytesIn,
      r.bytesOut,
    );
  }

  hasOpen(): boolean {
    return (
      this.sql.exec('SELECT 1 FROM usage_open UNION ALL SELECT 1 FROM usage_keyed LIMIT 1').toArray().length >
      0
    );
  }

  /**
   * Moves every open counter into new sealed batches (at most MAX_RECORDS_PER_BATCH records each) and
   * returns them. Sequence numbers start at the time of the first seal ever (ms), so if this object's
   * storage were ever lost, new ids would not collide with ids the control plane already holds.
   */
  seal(nowMs: number): UsageBatch[] {
    return this.storage.transactionSync(() => {
      const rows = this.sql
        .exec<OpenRow>('SELECT * FROM usage_open ORDER BY minute, deployment_id')
        .toArray()
        .map(toRecord)
        .concat(
          this.sql
            .exec<KeyedRow>('SELECT * FROM usage_keyed ORDER BY minute, idempotency_key')
            .toArray()
            .map((row) => ({ ...toRecord({ ...row, calls: 1 }), idempotencyKey: row.idempotency_key })),
        );
      if (rows.length === 0) return [];
      const orgId = rows[0]?.orgId ?? '';
      let seq = this.meta('next_seq') ?? nowMs;
      const batches: UsageBatch[] = [];
      for (let i = 0; i < rows.length; i += MAX_RECORDS_PER_BATCH) {
        const records = rows.slice(i, i + MAX_RECORDS_PER_BATCH);
        const batch = { batchId: `${orgId}:${seq}`, records };
        this.sql.exec(
          'INSERT INTO usage_batches (seq, batch_id, records) VALUES (?, ?, ?)',
          seq,
          batch.batchId,
          JSON.stringify(records),
        );
        batches.push(batch);
        seq += 1;
      }
      this.setMeta('next_seq', seq);
      this.sql.exec('DELETE FROM usage_open');
      this.sql.exec('DELETE FROM usage_keyed');
      return batches;
    });
  }

  /** Sealed batches not yet acknowledged, oldest first. */
  pending(): UsageBatch[] {
    return this.sql
      .exec<{ batch_id: string; records: string }>('SELECT batch_id, records FROM usage_batches ORDER BY seq')
      .toArray()
      .map((row) => ({ batchId: row.batch_id, records: UsageRecord.array().parse(JSON.parse(row.records)) }));
  }

  /** Forgets a batch the control plane has stored. */
  remove(batchId: string): void {
    this.sql.exec('DELETE FROM usage_batches WHERE batch_id = ?', batchId);
  }

  /** Consecutive failed flushes, which set the retry backoff. */
  failures(): number {
    return this.meta('failures') ?? 0;
  }

  setFailures(count: number): void {
    this.setMeta('failures', count);
  }

  private meta(name: string): number | undefined {
    const row = this.sql
      .exec<{ value: number }>('SELECT value FROM usage_meta WHERE name = ?', name)
      .toArray()[0];
    return row?.value;
  }

  private setMeta(name: string, value: number): void {
    this.sql.exec(
      'INSERT INTO usage_meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value',
      name,
      value,
    );
  }
}

function toRecord(row: OpenRow): UsageRecord {
  return {
    orgId: row.org_id,
    keyId: row.key_id === '' ? null : row.key_id,
    userId: row.user_id === '' ? null : row.user_id,
    deploymentId: row.deployment_id,
    minute: row.minute,
    calls: row.calls,
    bytesIn: row.bytes_in,
    bytesOut: row.bytes_out,
  };
}

/** Start of the UTC minute containing `ms`, e.g. `2026-11-23T14:05:00Z`. */
export function minuteOf(ms: number): string {
  return new Date(Math.floor(ms / 60_000) * 60_000).toISOString().replace('.000Z', 'Z');
}
