import type { Schema } from '@meridian/sdk';
import { useState } from 'react';
import { can, useApp } from '../api/context';
import { ErrorMessage } from '../components/error-message';
import { ListState } from '../components/list-state';
import { PageHeader } from '../components/page-header';
import { TableWrap } from '../components/table-wrap';
import { useLoad } from '../hooks/use-load';
import { type Paged, usePaged } from '../hooks/use-paged';
import { MemberForm } from './member-form';
import { MemberRow } from './member-row';
import { PendingInvitations } from './pending-invitations';
import { invitationsRevokedWith, type MemberChange } from './revoked-invitations';

type Member = Schema<'Member'>;

/** One page of the members with their pager: the API answers them a page at a time, as other lists. */
export function MembersList({
  list,
  onChange,
}: {
  list: Paged<Member>;
  onChange(member: Member): (change: MemberChange, since: Date) => void;
}) {
  return (
    <ListState list={list} label="Members" empty={null}>
      {(items) => (
        <TableWrap label="Members table">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Email</th>
              <th scope="col">Role</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {items.map((m) => (
              <MemberRow key={m.userId} member={m} onChange={onChange(m)} />
            ))}
          </tbody>
        </TableWrap>
      )}
    </ListState>
  );
}

export function MembersPage() {
  const { client, role } = useApp();
  const members = usePaged(
    (cursor, limit) => client.request('get', '/v1/org/members', { query: { cursor, limit } }),
    [],
    'members',
  );
  const manage = can.manage(role);
  const pending = useLoad(
    async () => (manage ? (await client.request('get', '/v1/org/invitations')).items : []),
    [manage],
  );
  // A removal or demotion revokes the invitations the member (or their keys) could no longer make: the list
  // drops them, and a line says which went, so none vanishes unexplained.
  const [revoked, setRevoked] = useState<{ name: string; change: MemberChange; items: string[] }>();
  const membersChanged = (member: Member) => (change: MemberChange, since: Date) => {
    members.reload();
    pending.reload();
    void invitationsRevokedWith(client, { member: member.userId }, change, since).then(
      (items) => setRevoked(items.length > 0 ? { name: member.name, change, items } : undefined),
      // The change is made; only the line naming what went with it is missing.
      () => setRevoked(undefined),
    );
  };
  return (
    <>
      <PageHeader title="Members and roles" />
      {manage ? <MemberForm onAdded={pending.reload} /> : null}
      <ErrorMessage error={pending.error} />
      {revoked ? (
        <p role="status">
          {revoked.change === 'member.remove'
            ? `The pending invitations ${revoked.name} (or their keys) sent were revoked with them: `
            : `The pending invitations ${revoked.name} can no longer make were revoked: `}
          {revoked.items.join(', ')}
        </p>
      ) : null}
      {pending.data ? <PendingInvitations items={pending.data} onChange={pending.reload} /> : null}
      <MembersList list={members} onChange={membersChanged} />
    </>
  );
}
