import { type FormEvent, useState } from 'react';
import { useApp } from '../api/context';
import { Field } from '../components/field';
import { ListState } from '../components/list-state';
import { PageHeader } from '../components/page-header';
import { TableWrap } from '../components/table-wrap';
import { TimeText } from '../components/time-text';
import { useLoad } from '../hooks/use-load';
import { usePaged } from '../hooks/use-paged';
import { auditRefLabel, loadAuditNames } from './audit-names';

export function AuditLogPage() {
  const { client } = useApp();
  const [draft, setDraft] = useState('');
  const [action, setAction] = useState('');
  const list = usePaged(
    (cursor, limit) =>
      client.request('get', '/v1/audit-log', { query: { cursor, limit, ...(action ? { action } : {}) } }),
    [action],
  );
  // Names for the ids entries carry; until they load (or if they cannot), entries show type and id.
  const names = useLoad(() => loadAuditNames(client), []).data ?? new Map<string, string>();
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setAction(draft.trim());
  };
  return (
    <>
      <PageHeader title="Audit log" />
      <form onSubmit={submit} className="inline-form" aria-label="Filter the audit log">
        <Field label="Action" hint="e.g. api_key.create, model.create">
          <input value={draft} onChange={(e) => setDraft(e.target.value)} />
        </Field>
        <button type="submit">Filter</button>
      </form>
      <ListState list={list} label="Audit entries" empty={null}>
        {(items) => (
          <TableWrap label="Audit log table">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Action</th>
                <th scope="col">Actor</th>
                <th scope="col">Target</th>
                <th scope="col">Request</th>
              </tr>
            </thead>
            <tbody>
              {items.map((e) => (
                <tr key={e.id}>
                  <td>
                    <TimeText iso={e.createdAt} />
                  </td>
                  <td>{e.action}</td>
                  <td title={`${e.actor.type} ${e.actor.id}`}>{auditRefLabel(e.actor, names)}</td>
                  <td title={`${e.target.type} ${e.target.id}`}>
                    {auditRefLabel(e.target, names, e.metadata)}
                  </td>
                  <td>
                    <code className="break">{e.requestId}</code>
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
