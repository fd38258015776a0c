import { useMemo } from 'react';
import { useApp } from '../api/context';
import { ListState } from '../components/list-state';
import { PageHeader } from '../components/page-header';
import { TableWrap } from '../components/table-wrap';
import { TimeText } from '../components/time-text';
import { useLoad } from '../hooks/use-load';
import { usePaged } from '../hooks/use-paged';
import { navigate, useLocation } from '../lib/router';
import { type AuditFilter, AuditFilters, auditFromSearch, auditSearch } from './audit-filters';
import { auditActorLabel, auditRefLabel, loadAuditNames, targetNames } from './audit-names';

export function AuditLogPage() {
  const { client, me } = useApp();
  // The filter lives in the address, so a reload or Back shows the entries it showed. Its query is fixed when
  // the filter is applied: a relative time does not move while one pages, or on a reload.
  const search = useLocation().query.toString();
  const { filter, query } = useMemo(() => auditFromSearch(new URLSearchParams(search)), [search]);
  const list = usePaged(
    (cursor, limit) => client.request('get', '/v1/audit-log', { query: { cursor, limit, ...query } }),
    [search],
    'audit',
  );
  // Names for the ids entries carry; until they load (or if they cannot), entries show type and id.
  const loaded = useLoad(() => loadAuditNames(client), []).data;
  const names = useMemo(() => loaded ?? new Map<string, string>(), [loaded]);
  // Targets may also be the organisation, named as the org switcher names it; only people and keys act.
  const targets = useMemo(() => targetNames(names, me.orgs ?? [me.org]), [names, me]);
  const apply = (next: AuditFilter) => {
    const to = auditSearch(next, Date.now());
    navigate(to ? `/audit?${to}` : '/audit');
  };
  const filtered = Object.keys(query).length > 0;
  return (
    <>
      <PageHeader title="Audit log" />
      <AuditFilters actors={names} applied={filter} onApply={apply} />
      <ListState
        list={list}
        label="Audit entries"
        empty={filtered ? 'Nothing in the log matches: try another action, person or time.' : null}
        {...(filtered ? { emptyTitle: 'No audit entries match this filter' } : {})}
      >
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
                  <td title={`${e.actor.type} ${e.actor.id}`}>{auditActorLabel(e.actor, names)}</td>
                  <td title={`${e.target.type} ${e.target.id}`}>
                    {auditRefLabel(e.target, targets, e.metadata)}
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
