import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from './client.js';

describe('writes to a local libsql file', () => {
  let dir: string;
  let db: Database;
  let close: () => void;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meridian-db-'));
    ({ db, close } = await openDatabase(`file:${join(dir, 'w.db')}`));
    await db.run(sql`create table counter (id integer primary key, n integer not null)`);
    await db.run(sql`insert into counter values (1, 0)`);
  });
  afterAll(() => {
    close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lets many overlapping transactions and plain writes all commit, none locked out', async () => {
    const transactions = Array.from({ length: 20 }, () =>
      db.transaction(async (tx) => {
        const [row] = await tx.all<{ n: number }>(sql`select n from counter where id = 1`);
        await new Promise((r) => setTimeout(r, 2)); // hold the transaction open across an await
        await tx.run(sql`update counter set n = ${(row?.n ?? 0) + 1} where id = 1`);
      }),
    );
    const plainWrites = Array.from({ length: 20 }, () =>
      db.run(sql`update counter set n = n + 1 where id = 1`),
    );
    await Promise.all([...transactions, ...plainWrites]);
    const [row] = await db.all<{ n: number }>(sql`select n from counter where id = 1`);
    // Serialised writers never lose an update, even the read-modify-write ones.
    expect(row?.n).toBe(40);
  });

  it('lets reads run while a transaction is open', async () => {
    let readDuringTx: number | undefined;
    await db.transaction(async (tx) => {
      await tx.run(sql`update counter set n = 100 where id = 1`);
      const [row] = await db.all<{ n: number }>(sql`select n from counter where id = 1`);
      readDuringTx = row?.n;
    });
    // The outside reader sees the last committed value, not the open transaction's.
    expect(readDuringTx).toBe(40);
  });

  it('releases the writer slot when a transaction throws', async () => {
    await expect(
      db.transaction(async (tx) => {
        await tx.run(sql`update counter set n = -1 where id = 1`);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    await db.run(sql`update counter set n = 7 where id = 1`);
    const [row] = await db.all<{ n: number }>(sql`select n from counter where id = 1`);
    expect(row?.n).toBe(7);
  });
});
