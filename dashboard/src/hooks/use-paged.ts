import { type DependencyList, useContext, useEffect, useState } from 'react';
import { AppContext } from '../api/context';
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

type Cursors = (string | undefined)[];

/**
 * The pages a list was on, kept in the history entry of the page showing it (history.state): Back to the list,
 * or a reload, finds the page left rather than the first. Only for the same list (`name`), organisation and
 * filters: another's cursors would mean nothing.
 */
const remembered = (name: string, key: string): Cursors | undefined => {
  if (typeof window === 'undefined') return undefined;
  const saved: unknown = (window.history.state as Record<string, unknown> | null)?.[`list:${name}`];
  if (typeof saved !== 'object' || saved === null) return undefined;
  const { key: savedKey, cursors } = saved as { key?: unknown; cursors?: unknown };
  if (savedKey !== key || !Array.isArray(cursors) || cursors.length === 0) return undefined;
  return cursors.map((c) => (typeof c === 'string' ? c : undefined));
};

const remember = (name: string, key: string, cursors: Cursors) => {
  const state = (window.history.state as Record<string, unknown> | null) ?? {};
  window.history.replaceState({ ...state, [`list:${name}`]: { key, cursors } }, '');
};

/**
 * One page of a cursor-paginated list at a time, with the cursors seen so far for going back. A list given a
 * `name` keeps its place in the browser's history (see `remembered`).
 */
export function usePaged<T>(
  load: (cursor: string | undefined, limit: number) => Promise<PageOf<T>>,
  deps: DependencyList,
  name?: string,
): Paged<T> {
  const org = useContext(AppContext)?.me?.org?.id ?? '';
  const key = JSON.stringify([org, ...deps]);
  const [cursors, setCursors] = useState<Cursors>(
    () => (name === undefined ? undefined : remembered(name, key)) ?? [undefined],
  );
  const [depsKey, setDepsKey] = useState(key);
  // New filters start again at the first page.
  if (key !== depsKey) {
    setDepsKey(key);
    setCursors([undefined]);
  }
  useEffect(() => {
    if (name !== undefined) remember(name, depsKey, cursors);
  }, [name, depsKey, cursors]);
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
