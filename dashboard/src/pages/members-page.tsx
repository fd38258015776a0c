import { can, useApp } from '../api/context';
import { ErrorMessage } from '../components/error-message';
import { Loading } from '../components/loading';
import { PageHeader } from '../components/page-header';
import { TableWrap } from '../components/table-wrap';
import { useLoad } from '../hooks/use-load';
import { MemberForm } from './member-form';
import { MemberRow } from './member-row';
import { PendingInvitations } from './pending-invitations';

export function MembersPage() {
  const { client, role } = useApp();
  const members = useLoad(() => client.request('get', '/v1/org/members'), []);
  const manage = can.manage(role);
  const pending = useLoad(
    async () => (manage ? (await client.request('get', '/v1/org/invitations')).items : []),
    [manage],
  );
  // A removal or demotion revokes the invitations the member (or their keys) could no longer make.
  const membersChanged = () => {
    members.reload();
    pending.reload();
  };
  return (
    <>
      <PageHeader title="Members and roles" />
      {manage ? <MemberForm onAdded={pending.reload} /> : null}
      <ErrorMessage error={pending.error} />
      {pending.data ? <PendingInvitations items={pending.data} onChange={pending.reload} /> : null}
      <ErrorMessage error={members.error} />
      {members.loading && !members.data ? <Loading /> : null}
      {members.data ? (
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
            {members.data.items.map((m) => (
              <MemberRow key={m.userId} member={m} onChange={membersChanged} />
            ))}
          </tbody>
        </TableWrap>
      ) : null}
    </>
  );
}
