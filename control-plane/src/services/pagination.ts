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
