/** The page's visibility as `document` tells it: hidden, and an event when that changes. */
export type PageVisibility = Pick<Document, 'hidden' | 'addEventListener' | 'removeEventListener'>;

/**
 * Calls `refresh` `intervalMs` after the previous call settled, so two never overlap, and only while `page` is
 * visible: a hidden tab asks nothing, and one shown again refreshes at once (what it shows may be old by then).
 * Returns the function that stops it.
 */
export function pollWhileVisible(
  refresh: () => Promise<unknown>,
  intervalMs: number,
  page: PageVisibility,
): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running = false;
  let stopped = false;
  const wait = () => {
    clearTimeout(timer);
    timer = undefined;
    if (!stopped && !running && !page.hidden) timer = setTimeout(tick, intervalMs);
  };
  const tick = async () => {
    clearTimeout(timer);
    timer = undefined;
    running = true;
    try {
      await refresh();
    } catch {
      // The caller shows its own errors; the next turn tries again.
    } finally {
      running = false;
      wait();
    }
  };
  const onVisibility = () => {
    if (page.hidden) {
      clearTimeout(timer);
      timer = undefined;
    } else if (!running) void tick();
  };
  page.addEventListener('visibilitychange', onVisibility);
  wait();
  return () => {
    stopped = true;
    clearTimeout(timer);
    page.removeEventListener('visibilitychange', onVisibility);
  };
}
