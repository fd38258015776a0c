import { useApp } from '../api/context';
import { AppLink } from '../components/app-link';
import { ListState } from '../components/list-state';
import { PageHeader } from '../components/page-header';
import { TableWrap } from '../components/table-wrap';
import { TimeText } from '../components/time-text';
import { usePaged } from '../hooks/use-paged';

export function ModelsPage() {
  const { client } = useApp();
  const list = usePaged(
    (cursor, limit) => client.request('get', '/v1/models', { query: { cursor, limit } }),
    [],
    'models',
  );
  return (
    <>
      <PageHeader title="Models">
        <AppLink to="/">Upload a model</AppLink>
      </PageHeader>
      <ListState list={list} label="Models" empty={<AppLink to="/">Upload your first model</AppLink>}>
        {(items) => (
          <TableWrap label="Models table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Latest version</th>
                <th scope="col">Aliases</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {items.map((m) => (
                <tr key={m.id}>
                  <td>
                    <AppLink to={`/models/${m.id}`}>{m.name}</AppLink>
                  </td>
                  <td>{m.latestVersion ?? '—'}</td>
                  <td>{m.aliases.map((a) => `${a.alias} → v${a.version}`).join(', ') || '—'}</td>
                  <td>
                    <TimeText iso={m.updatedAt} />
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
