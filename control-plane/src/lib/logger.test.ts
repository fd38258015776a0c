import { createClient } from '@libsql/client';
import { drizzle } from 'drizzle-orm/libsql';
import { sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';

const users = sqliteTable('users', { email: text('email').primaryKey(), hash: text('hash').notNull() });

/** Logs `fields` at error level and returns the one line written. */
function logged(fields: Record<string, unknown>): string {
  const lines: string[] = [];
  createLogger('error', (line) => lines.push(line)).error('unhandled error', fields);
  expect(lines).toHaveLength(1);
  return lines[0] as string;
}

describe('the logger', () => {
  it('writes a failed query without its bound values, keeping the query and the driver’s reason', async () => {
    const client = createClient({ url: ':memory:' });
    try {
      const db = drizzle(client);
      await client.execute('create table users (email text primary key, hash text not null)');
      await db.insert(users).values({ email: 'ada@example.com', hash: 'scrypt$first' });
      // A real drizzle error from a real driver: its message lists every parameter, the hash among them.
      const error = await db
        .insert(users)
        .values({ email: 'ada@example.com', hash: 'scrypt$32768$8$3$SECRET-HASH' })
        .catch((e: unknown) => e);
      expect(String((error as Error).message)).toContain('SECRET-HASH');

      const line = logged({ error });
      expect(line).not.toContain('SECRET-HASH');
      expect(line).not.toContain('ada@example.com');
      const written = JSON.parse(line).error;
      expect(written.message).toMatch(/^Failed query: insert into "users" .* \(2 parameters withheld\)$/);
      expect(written.stack).not.toContain('params:');
      expect(JSON.stringify(written.cause)).toMatch(/UNIQUE constraint failed: users\.email/);
    } finally {
      client.close();
    }
  });

  it('redacts secret-named fields at any depth and keeps an ordinary error’s message', () => {
    const line = JSON.parse(
      logged({ request: { headers: { authorization: 'Bearer abc' } }, error: new Error('boom') }),
    );
    expect(line.request.headers.authorization).toBe('[redacted]');
    expect(line.error.message).toBe('boom');
  });
});
