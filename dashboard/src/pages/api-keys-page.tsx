import type { Schema } from '@meridian/sdk';
import { useState } from 'react';
import { can, useApp } from '../api/context';
import { ListState } from '../components/list-state';
import { PageHeader } from '../components/page-header';
import { TableWrap } from '../components/table-wrap';
import { usePaged } from '../hooks/use-paged';
import { ApiKeyForm } from './api-key-form';
import { ApiKeyRow, keyLabel } from './api-key-row';
import { invitationsRevokedWith } from './revoked-invitations';

export function ApiKeysPage() {
  const { client, role } = useApp();
  const list = usePaged(
    (cursor, limit) => client.request('get', '/v1/api-keys', { query: { cursor, limit } }),
    [],
    'api-keys',
  );
  // A revoked key takes the pending invitations it sent with it: a line says which went, so none vanishes
  // from the members page unexplained.
  const [revoked, setRevoked] = useState<{ name: string; items: string[] }>();
  const keyRevoked = (key: Schema<'ApiKey'>) => (since: Date) => {
    list.reload();
    void invitationsRevokedWith(client, { key: key.id }, 'api_key.revoke', since).then(
      (items) => setRevoked(items.length > 0 ? { name: keyLabel(key), items } : undefined),
      // The key is revoked; only the line naming what went with it is missing.
      () => setRevoked(undefined),
    );
  };
  return (
    <>
      <PageHeader title="API keys" />
      {can.manage(role) ? <ApiKeyForm onCreated={list.reload} /> : null}
      {revoked ? (
        <p role="status">
          {`The pending invitations the key ${revoked.name} sent were revoked with it: `}
          {revoked.items.join(', ')}
        </p>
      ) : null}
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
                <th scope="col">Created</th>
                <th scope="col">Expires</th>
                <th scope="col">Last used</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {items.map((k) => (
                <ApiKeyRow key={k.id} apiKey={k} onRevoked={keyRevoked(k)} />
              ))}
            </tbody>
          </TableWrap>
        )}
      </ListState>
    </>
  );
}
