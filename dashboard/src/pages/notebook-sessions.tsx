import { useApp } from '../api/context';
import { ListState } from '../components/list-state';
import { TimeText } from '../components/time-text';
import { usePaged } from '../hooks/use-paged';
import { hardwareText } from '../lib/gpus';

export function NotebookSessions({ id }: { id: string }) {
  const { client } = useApp();
  const list = usePaged(
    (cursor, limit) =>
      client.request('get', '/v1/notebooks/{id}/sessions', { path: { id }, query: { cursor, limit } }),
    [id],
  );
  return (
    <details>
      <summary>Sessions</summary>
      <ListState list={list} label="Sessions" empty={null}>
        {(items) => (
          <ul>
            {items.map((s) => (
              <li key={s.id}>
                <TimeText iso={s.startedAt} /> – <TimeText iso={s.endedAt} />: {hardwareText(s)},{' '}
                {s.seconds === null ? 'running' : `${Math.ceil(s.seconds / 60)} min`}
                {s.endReason ? ` (${s.endReason})` : ''}
              </li>
            ))}
          </ul>
        )}
      </ListState>
    </details>
  );
}
