import { type DependencyList, useState } from 'react';
import { useLoad } from './use-load';

export interface PageOf<T> {
  items: T[];
  nextCursor?: string | null;
}

export interface Paged<T> {
  items: T[];
  error: unknown;
  loading: boolean;
  page: number;
  hasNext: boolean;
  next(): void;
  previous(): void;
  reload(): void;
  /** Loads the page shown again, keeping it on screen meanwhile; settles once the answer is in. */
  refresh(): Promise<void>;
}

export const PAGE_SIZE = 20;

/** One page of a cursor-paginated list at a time, with the cursors seen so far for going back. */
export function usePaged<T>(
  load: (cursor: string | undefined, limit: number) => Promise<PageOf<T>>,
  deps: DependencyList,
): Paged<T> {
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [depsKey, setDepsKey] = useState(JSON.stringify(deps));
  // New filters start again at the first page.
  const key = JSON.stringify(deps);
  if (key !== depsKey) {
    setDepsKey(key);
    setCursors([undefined]);
  }
  const cursor = cursors.at(-1);
  const loaded = useLoad(() => load(cursor, PAGE_SIZE), [key, cursor]);
  const nextCursor = loaded.data?.nextCursor ?? undefined;
  return {
    items: loaded.data?.items ?? [],
    error: loaded.error,
    loading: loaded.loading,
    page: cursors.length,
    hasNext: nextCursor !== undefined,
    next: () => nextCursor && setCursors((c) => [...c, nextCursor]),
    previous: () => setCursors((c) => (c.length > 1 ? c.slice(0, -1) : c)),
    reload: loaded.reload,
    refresh: loaded.refresh,
  };
}
