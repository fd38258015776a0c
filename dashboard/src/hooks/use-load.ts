import { type DependencyList, useCallback, useContext, useEffect, useRef, useState } from 'react';
import { AppContext } from '../api/context';
import { isUnauthenticated } from '../api/session';

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload(): void;
  /** Loads again while what was loaded stays shown (no `loading`); settles once the answer is in. */
  refresh(): Promise<void>;
}

/** Runs `load` on mount and whenever `deps` change; a newer run's answer wins over an older one's. */
export function useLoad<T>(load: () => Promise<T>, deps: DependencyList): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  const latest = useRef(load);
  latest.current = load;
  // Each run (and unmounting) moves it on: only the answer of the run still current is kept.
  const runs = useRef(0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: the caller's deps decide when to load again
  useEffect(() => {
    const run = ++runs.current;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => run === runs.current && setState({ data, loading: false }),
      (error: unknown) => run === runs.current && setState({ error, loading: false }),
    );
    return () => {
      runs.current += 1;
    };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  // A load refused because the login ended (the login dialog opens over the page) runs again once the user has
  // logged in again: the page then shows what it could not load, not the refusal.
  const session = useContext(AppContext)?.session;
  const refused = isUnauthenticated(state.error);
  useEffect(() => {
    if (!session || !refused) return;
    return session.subscribe((loggedIn) => {
      if (loggedIn) reload();
    });
  }, [session, refused, reload]);
  const refresh = useCallback(async () => {
    const run = runs.current;
    try {
      const data = await latest.current();
      if (run === runs.current) setState({ data, loading: false });
    } catch (error) {
      // What was shown stays, beside the error, until a later load answers.
      if (run === runs.current) setState((s) => ({ ...s, error }));
    }
  }, []);
  return { data: state.data, error: state.error, loading: state.loading, reload, refresh };
}
