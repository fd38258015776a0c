import type { Schema } from '@meridian/sdk';
import { useApp } from '../api/context';
import { ConfirmButton } from '../components/confirm-button';
import { ErrorMessage } from '../components/error-message';
import { TableWrap } from '../components/table-wrap';
import { TimeText } from '../components/time-text';
import { useAction } from '../hooks/use-action';

function PendingRow({ invitation: i, onChange }: { invitation: Schema<'Invitation'>; onChange(): void }) {
  const { client } = useApp();
  const revoke = useAction(async () => {
    await client.request('delete', '/v1/org/invitations/{invitationId}', { path: { invitationId: i.id } });
    onChange();
  });
  return (
    <tr>
      <td>{i.email}</td>
      <td>{i.role}</td>
      <td>{i.invitedBy}</td>
      <td>
        <TimeText iso={i.expiresAt} />
      </td>
      <td>
        <ConfirmButton
          label={`Revoke invitation of ${i.email}`}
          confirm={`Yes, revoke the invitation of ${i.email}`}
          onConfirm={() => void revoke.run()}
          disabled={revoke.busy}
        />
        <ErrorMessage error={revoke.error} />
      </td>
    </tr>
  );
}

/** The organisation's invitations nobody has answered yet (owners and admins). */
export function PendingInvitations(props: { items: Schema<'Invitation'>[]; onChange(): void }) {
  if (props.items.length === 0) return null;
  return (
    <>
      <h2>Pending invitations</h2>
      <TableWrap label="Pending invitations table">
        <thead>
          <tr>
            <th scope="col">Email</th>
            <th scope="col">Role</th>
            <th scope="col">Invited by</th>
            <th scope="col">Expires</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {props.items.map((i) => (
            <PendingRow key={i.id} invitation={i} onChange={props.onChange} />
          ))}
        </tbody>
      </TableWrap>
    </>
  );
}
