import { can, useApp } from '../api/context';
import { ListState } from '../components/list-state';
import { PageHeader } from '../components/page-header';
import { TableWrap } from '../components/table-wrap';
import { usePaged } from '../hooks/use-paged';
import { ApiKeyForm } from './api-key-form';
import { ApiKeyRow } from './api-key-row';

export function ApiKeysPage() {
  const { client, role } = useApp();
  const list = usePaged(
    (cursor, limit) => client.request('get', '/v1/api-keys', { query: { cursor, limit } }),
    [],
  );
  return (
    <>
      <PageHeader title="API keys" />
      {can.manage(role) ? <ApiKeyForm onCreated={list.reload} /> : null}
      <ListState list={list} label="API keys" empty={<p>Create a key to call your deployments.</p>}>
        {(items) => (
          <TableWrap label="API keys table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Key</th>
                <th scope="col">Status</th>
                <th scope="col">Scopes</th>
                <th scope="col">Limits</th>
                <th scope="col">Expires</th>
                <th scope="col">Last used</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {items.map((k) => (
                <ApiKeyRow key={k.id} apiKey={k} onChange={list.reload} />
              ))}
            </tbody>
          </TableWrap>
        )}
      </ListState>
    </>
  );
}
