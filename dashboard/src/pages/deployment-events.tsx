import { useApp } from '../api/context';
import { ListState } from '../components/list-state';
import { TimeText } from '../components/time-text';
import { usePaged } from '../hooks/use-paged';
import { usePolling } from '../hooks/use-polling';

/** How often the events follow the deployment, while the page is in view. */
const REFRESH_MS = 5_000;

export function DeploymentEvents({ id }: { id: string }) {
  const { client } = useApp();
  const list = usePaged(
    (cursor, limit) =>
      client.request('get', '/v1/deployments/{id}/events', {
        path: { id },
        query: { cursor, limit, order: 'newest' },
      }),
    [id],
  );
  // Only the first page, where new events arrive: an older page stays still under its reader. Not during a
  // load of its own either (the first, or a change of page).
  usePolling(list.refresh, REFRESH_MS, list.page === 1 && !list.loading);
  return (
    <>
      {/* Newest first: what changed lately, not the deployment's creation, is what its page is opened for. */}
      <h2>Events, newest first</h2>
      <ListState list={list} label="Events" empty={null}>
        {(items) => (
          <ul className="events">
            {items.map((e) => (
              <li key={e.id}>
                <TimeText iso={e.at} /> <span className="badge">{e.type}</span> {e.message}
              </li>
            ))}
          </ul>
        )}
      </ListState>
    </>
  );
}
