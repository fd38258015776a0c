import { createClient } from '@libsql/client';
import { asc } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/libsql';
import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { updateRows } from './batched-update.js';

const items = sqliteTable('items', {
  id: text('id').primaryKey(),
  count: integer('count').notNull(),
  label: text('label'),
  seenAt: integer('seen_at', { mode: 'timestamp_ms' }),
});

describe('updateRows', () => {
  let client: ReturnType<typeof createClient>;
  let db: ReturnType<typeof drizzle>;
  const run = (query: Parameters<typeof db.run>[0]) => db.run(query);
  const all = () => db.select().from(items).orderBy(asc(items.id));

  beforeEach(async () => {
    client = createClient({ url: ':memory:' });
    db = drizzle(client);
    await client.execute(
      'create table items (id text primary key, count integer not null, label text, seen_at integer)',
    );
    const rows = Array.from({ length: 450 }, (_, i) => ({ id: `i${String(i).padStart(3, '0')}`, count: 1 }));
    for (let i = 0; i < rows.length; i += 100) await db.insert(items).values(rows.slice(i, i + 100));
  });
  afterEach(() => client.close());

  it('updates rows of different shapes, across chunks, encoding dates and nulls as their columns do', async () => {
    const at = new Date(1_700_000_000_123);
    await updateRows(run, items, items.id, [
      ...Array.from({ length: 420 }, (_, i) => ({
        key: `i${String(i).padStart(3, '0')}`,
        set: [[items.count, i + 10]] as [typeof items.count, unknown][],
      })),
      {
        key: 'i420',
        set: [
          [items.label, 'x'],
          [items.seenAt, at],
        ],
      },
      { key: 'i421', set: [[items.label, null]] },
      { key: 'i422', set: [] },
    ]);
    const rows = await all();
    expect(rows[0]).toEqual({ id: 'i000', count: 10, label: null, seenAt: null });
    expect(rows[419]).toEqual({ id: 'i419', count: 429, label: null, seenAt: null });
    expect(rows[420]).toEqual({ id: 'i420', count: 1, label: 'x', seenAt: at });
    expect(rows[422]).toEqual({ id: 'i422', count: 1, label: null, seenAt: null });
    expect(rows.slice(423).every((r) => r.count === 1)).toBe(true);
  });

  it('leaves a guarded row alone once its guard column no longer holds the expected value', async () => {
    await client.execute("update items set count = 5 where id = 'i001'");
    await updateRows(run, items, items.id, [
      { key: 'i000', set: [[items.count, 3]], guard: [items.count, 1] },
      { key: 'i001', set: [[items.count, 3]], guard: [items.count, 1] },
    ]);
    const [first, second] = await all();
    expect(first?.count).toBe(3);
    // Another writer moved it to 5 since it was read as 1: theirs stands.
    expect(second?.count).toBe(5);
  });
});
