import { useLayoutEffect, useRef } from 'react';
import { useApp } from '../api/context';
import { ErrorMessage } from '../components/error-message';
import { Loading } from '../components/loading';
import { TimeText } from '../components/time-text';
import { useLoad } from '../hooks/use-load';
import { usePolling } from '../hooks/use-polling';

/** How many of the newest lines the page shows; `meridian deployments logs NAME -f` follows them live. */
const TAIL = 100;
/** How often the lines follow the replicas, while the page is in view. */
const REFRESH_MS = 5_000;

/** The newest log lines of every replica (load, failed requests with their ids, output), kept fresh. */
export function DeploymentLogs({ id }: { id: string }) {
  const { client } = useApp();
  const logs = useLoad(
    () => client.request('get', '/v1/deployments/{id}/logs', { path: { id }, query: { tail: TAIL } }),
    [id],
  );
  usePolling(logs.refresh, REFRESH_MS, !logs.loading);
  const scroller = useFollowEnd(logs.data);
  const lines = logs.data?.lines ?? [];
  const replicas = logs.data?.replicas ?? [];
  const missing = replicas.filter((r) => r.error);
  const noneRunning = logs.data !== undefined && replicas.every((r) => r.phase === 'ended');
  return (
    <section aria-label="Logs">
      <h2>
        Logs{' '}
        <button type="button" onClick={logs.reload}>
          Refresh logs
        </button>
      </h2>
      <ErrorMessage error={logs.error} />
      {!logs.data && !logs.error ? <Loading /> : null}
      {missing.map((r) => (
        <p key={r.replica} className="muted">
          {r.replica}: {r.error}
        </p>
      ))}
      {noneRunning ? (
        <p>
          {replicas.length > 0
            ? 'No replica is running: these are the lines of replicas removed lately.'
            : 'No replica is running (not placed yet, or scaled to zero), and none was removed lately.'}
        </p>
      ) : null}
      {logs.data && !noneRunning && lines.length === 0 ? <p>No lines yet.</p> : null}
      {lines.length > 0 ? (
        // Focusable, so a keyboard user can scroll long lines.
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard
        <pre className="logs" tabIndex={0} ref={scroller.ref} onScroll={scroller.onScroll}>
          {lines.map((l) => (
            <div key={`${l.replica}-${l.seq}`}>
              <TimeText iso={l.time} /> [{l.replica} {l.stream}] {l.line}
            </div>
          ))}
        </pre>
      ) : null}
    </section>
  );
}

/**
 * Keeps a scrolled box at its end as `content` changes while its reader is there (as `tail -f` does); one
 * who scrolled up to read keeps their place.
 */
function useFollowEnd(content: unknown) {
  const ref = useRef<HTMLPreElement>(null);
  const atEnd = useRef(true);
  // biome-ignore lint/correctness/useExhaustiveDependencies: new content is what moves the end
  useLayoutEffect(() => {
    const box = ref.current;
    if (box && atEnd.current) box.scrollTop = box.scrollHeight;
  }, [content]);
  const onScroll = () => {
    const box = ref.current;
    // A pixel or two of slack: zoomed pages scroll to fractions.
    if (box) atEnd.current = box.scrollHeight - box.scrollTop - box.clientHeight < 2;
  };
  return { ref, onScroll };
}
