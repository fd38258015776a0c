import { AppError } from '../errors.js';

/**
 * Keyset paging: callers fetch `limit + 1` rows in cursor order; the extra row only says whether another
 * page exists, and the cursor is the last returned row's key.
 */
export function splitPage<T>(
  rows: T[],
  limit: number,
  keyOf: (row: T) => string,
): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last !== undefined ? keyOf(last) : null };
}

/** The 400 for a cursor no page of the list could have handed out. */
export function invalidCursor(): AppError {
  return new AppError('validation_failed', 'The cursor is not one this endpoint handed out', [
    { path: 'cursor', message: 'invalid cursor' },
  ]);
}

/**
 * The key a page starts after: undefined for the first page, else the cursor if it has the shape of the
 * list's keys. Compared as text, any other string would silently read as some page (the first, or none),
 * so it is refused instead.
 */
export function cursorKey(cursor: string | undefined, keyShape: RegExp): string | undefined {
  if (!cursor) return undefined;
  if (!keyShape.test(cursor)) throw invalidCursor();
  return cursor;
}

/** `cursorKey` for a list keyed by ids with `prefix` (`exp`, `file`, …): the ids it hands out. */
export const idCursor = (cursor: string | undefined, prefix: string) =>
  cursorKey(cursor, new RegExp(`^${prefix}_[0-9a-z]{26}$`));
