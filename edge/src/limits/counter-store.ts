import type { StoredCounter } from './fixed-window.js';

/**
 * Window counters in the org limiter's SQLite storage: one row per (scope, name), i.e. per limit of a key
 * or user, plus the org's monthly quota. Synchronous, like the storage API it wraps, so a caller can read,
 * decide and write without yielding to another request.
 */
export class CounterStore {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS counters (
      scope TEXT NOT NULL,
      name TEXT NOT NULL,
      start_ms INTEGER NOT NULL,
      end_ms INTEGER NOT NULL,
      used INTEGER NOT NULL,
      PRIMARY KEY (scope, name)
    )`);
  }

  read(scope: string, name: string): StoredCounter | undefined {
    const rows = this.sql
      .exec<{ start_ms: number; end_ms: number; used: number }>(
        'SELECT start_ms, end_ms, used FROM counters WHERE scope = ? AND name = ?',
        scope,
        name,
      )
      .toArray();
    const row = rows[0];
    return row && { startMs: row.start_ms, endMs: row.end_ms, used: row.used };
  }

  write(scope: string, name: string, counter: StoredCounter): void {
    this.sql.exec(
      `INSERT INTO counters (scope, name, start_ms, end_ms, used) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (scope, name) DO UPDATE SET start_ms = excluded.start_ms, end_ms = excluded.end_ms, used = excluded.used`,
      scope,
      name,
      counter.startMs,
      counter.endMs,
      counter.used,
    );
  }

  /** Gives one unit back to the window that started at `startMs`; a no-op once that window has passed. */
  refund(scope: string, name: string, startMs: number): void {
    this.sql.exec(
      'UPDATE counters SET used = used - 1 WHERE scope = ? AND name = ? AND start_ms = ? AND used > 0',
      scope,
      name,
      startMs,
    );
  }

  /** Drops counters whose window has ended: they count as zero anyway. */
  prune(nowMs: number): void {
    this.sql.exec('DELETE FROM counters WHERE end_ms <= ?', nowMs);
  }
}
