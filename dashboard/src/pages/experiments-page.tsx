import { useApp } from '../api/context';
import { AppLink } from '../components/app-link';
import { ListState } from '../components/list-state';
import { PageHeader } from '../components/page-header';
import { TableWrap } from '../components/table-wrap';
import { TimeText } from '../components/time-text';
import { usePaged } from '../hooks/use-paged';

export function ExperimentsPage() {
  const { client } = useApp();
  const list = usePaged(
    (cursor, limit) => client.request('get', '/v1/experiments', { query: { cursor, limit } }),
    [],
    'experiments',
  );
  return (
    <>
      <PageHeader title="Experiments" />
      <ListState
        list={list}
        label="Experiments"
        empty={<p>Log runs from training code with the SDK or MLflow-style calls to /v1/experiments.</p>}
      >
        {(items) => (
          <TableWrap label="Experiments table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Description</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {items.map((e) => (
                <tr key={e.id}>
                  <td>
                    <AppLink to={`/experiments/${e.id}`}>{e.name}</AppLink>
                  </td>
                  <td>{e.description || '—'}</td>
                  <td>
                    <TimeText iso={e.createdAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </TableWrap>
        )}
      </ListState>
    </>
  );
}
