import { useEffect, useRef } from 'react';
import { pollWhileVisible } from './poll-while-visible';

/** Calls `refresh` every `intervalMs` while `on` and the page is visible, one call at a time. */
export function usePolling(refresh: () => Promise<unknown>, intervalMs: number, on = true): void {
  const latest = useRef(refresh);
  latest.current = refresh;
  useEffect(() => {
    if (!on) return;
    return pollWhileVisible(() => latest.current(), intervalMs, document);
  }, [intervalMs, on]);
}
