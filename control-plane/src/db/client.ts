import { fileURLToPath } from 'node:url';
import { createClient } from '@libsql/client';
import { drizzle } from 'drizzle-orm/libsql';
import { migrate } from 'drizzle-orm/libsql/migrator';
import * as schema from './schema.js';
import { serializeWrites } from './serialize-writes.js';

export type Database = ReturnType<typeof drizzle<typeof schema>>;

const MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations', import.meta.url));

/** Opens libsql (file:, :memory: or libsql://) and applies every pending migration before returning. */
export async function openDatabase(
  url: string,
  authToken?: string,
): Promise<{ db: Database; close(): void }> {
  const local = url.startsWith('file:') || url === ':memory:';
  const raw = createClient({ url, authToken });
  // A remote libsql server orders writers itself; a local file needs it done here.
  const client = local ? serializeWrites(raw) : raw;
  if (local) {
    // WAL lets readers proceed during writes; foreign keys are off by default in SQLite.
    await client.execute('PRAGMA journal_mode = WAL');
    await client.execute('PRAGMA busy_timeout = 5000');
  }
  await client.execute('PRAGMA foreign_keys = ON');
  const db = drizzle(client, { schema });
  await migrate(db, { migrationsFolder: MIGRATIONS_DIR });
  return { db, close: () => client.close() };
}
