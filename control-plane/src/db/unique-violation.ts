/**
 * Whether `err` is libsql refusing a write for the unique constraint on `columns` (as SQLite names them:
 * `table.column`, comma-separated). Drizzle wraps the driver's error, so its cause is read too. Checks that
 * read before they write lose races; this is how the losing write becomes the same 409 as the check.
 */
export function violatesUnique(err: unknown, columns: string): boolean {
  const text = err instanceof Error ? `${err.message} ${String(err.cause ?? '')}` : '';
  return text.includes(`UNIQUE constraint failed: ${columns}`);
}
