/** One page of a cursor-paginated list, as every list route answers. */
export interface Page<T> {
  items: T[];
  nextCursor?: string | null;
}

/** Every item of a cursor-paginated list, fetching each page only when the previous one is used up. */
export async function* paginate<T>(
  fetchPage: (cursor: string | undefined) => Promise<Page<T>>,
): AsyncGenerator<T, void, undefined> {
  let cursor: string | undefined;
  do {
    const page = await fetchPage(cursor);
    yield* page.items;
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
}

/** Every item of an async iterable, in order (Array.fromAsync for runtimes without it). */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}
