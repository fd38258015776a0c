import type { Schema } from '@meridian/sdk';
import { useState } from 'react';
import { useApp } from '../api/context';
import { ErrorMessage } from '../components/error-message';
import { Loading } from '../components/loading';
import { PageHeader } from '../components/page-header';
import { TableWrap } from '../components/table-wrap';
import { useAction } from '../hooks/use-action';
import { useLoad } from '../hooks/use-load';
import { navigate, useLocation } from '../lib/router';

type Joined = Schema<'AcceptedInvitation'>;

function Answer({
  invitation: i,
  onJoined,
  onChange,
}: {
  invitation: Schema<'Invitation'>;
  onJoined(joined: Joined): void;
  onChange(): void;
}) {
  const { client } = useApp();
  const path = { invitationId: i.id };
  const accept = useAction(async () => {
    onJoined(await client.request('post', '/v1/invitations/{invitationId}/accept', { path }));
    onChange();
  });
  const decline = useAction(async () => {
    await client.request('post', '/v1/invitations/{invitationId}/decline', { path });
    onChange();
  });
  return (
    <tr>
      <td>{i.org.name}</td>
      <td>{i.role}</td>
      <td>{i.invitedBy}</td>
      <td>{new Date(i.expiresAt).toLocaleString()}</td>
      <td>
        <button type="button" className="primary" onClick={() => void accept.run()} disabled={accept.busy}>
          Accept invitation to {i.org.name}
        </button>{' '}
        <button type="button" onClick={() => void decline.run()} disabled={decline.busy}>
          Decline
        </button>
        <ErrorMessage error={accept.error ?? decline.error} />
      </td>
    </tr>
  );
}

/**
 * The signed-in user's invitations, to accept or decline. The link an invitation mail carries lands here
 * with its token; accepting it takes the account signed in, which must be the one invited.
 */
export function InvitationsPage() {
  const { client, reloadMe, me } = useApp();
  const { query } = useLocation();
  const token = query.get('token');
  const [joined, setJoined] = useState<Joined>();
  const mine = useLoad(() => client.request('get', '/v1/invitations'), []);
  const onJoined = (value: Joined) => {
    setJoined(value);
    void reloadMe();
  };
  const byToken = useAction(async () => {
    if (!token) return;
    onJoined(await client.request('post', '/v1/invitations/accept', { body: { token } }));
    // The token is spent: it leaves the address bar (and the history) once used.
    navigate('/invitations', { replace: true });
    mine.reload();
  });
  return (
    <>
      <PageHeader title="Invitations" />
      {joined ? (
        <p role="status">
          You joined {joined.org.name} as {joined.role}. Choose it in the organisation switcher to work in it.
        </p>
      ) : null}
      {token ? (
        <div className="stack">
          <p>
            You opened an invitation link. Accepting it adds {me.user?.email ?? 'you'} to its organisation;
            only the address it was sent to can accept it.
          </p>
          <button
            type="button"
            className="primary"
            onClick={() => void byToken.run()}
            disabled={byToken.busy}
          >
            Accept the invitation from the link
          </button>
          <ErrorMessage error={byToken.error} />
        </div>
      ) : null}
      <ErrorMessage error={mine.error} />
      {mine.loading && !mine.data ? <Loading /> : null}
      {mine.data && mine.data.items.length === 0 ? <p>No pending invitations.</p> : null}
      {mine.data && mine.data.items.length > 0 ? (
        <TableWrap label="Invitations table">
          <thead>
            <tr>
              <th scope="col">Organisation</th>
              <th scope="col">Role</th>
              <th scope="col">Invited by</th>
              <th scope="col">Expires</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {mine.data.items.map((i) => (
              <Answer key={i.id} invitation={i} onJoined={onJoined} onChange={mine.reload} />
            ))}
          </tbody>
        </TableWrap>
      ) : null}
    </>
  );
}
