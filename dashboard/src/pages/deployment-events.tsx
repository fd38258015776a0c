import { useApp } from '../api/context';
import { ListState } from '../components/list-state';
import { TimeText } from '../components/time-text';
import { usePaged } from '../hooks/use-paged';

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
