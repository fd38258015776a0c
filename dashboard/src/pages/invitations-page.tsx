import type { Schema } from '@meridian/sdk';
import { useState } from 'react';
import { useApp } from '../api/context';
import { ErrorMessage } from '../components/error-message';
import { Loading } from '../components/loading';
import { PageHeader } from '../components/page-header';
import { TimeText } from '../components/time-text';
import { useAction } from '../hooks/use-action';
import { useLoad } from '../hooks/use-load';
import { navigate, useLocation } from '../lib/router';

type Invitation = Schema<'Invitation'>;
/** What the user did with the invitation, said once its token has left the address bar. */
type Outcome = { joined: Schema<'AcceptedInvitation'> } | { declined: Invitation };

/** The invitation the link's token names: what it offers, and Accept / Decline. */
function Offer({ token, onAnswered }: { token: string; onAnswered(outcome: Outcome): void }) {
  const { client, me } = useApp();
  const body = { token };
  const offer = useLoad(() => client.request('post', '/v1/invitations/preview', { body }), [token]);
  const accept = useAction(async () => {
    onAnswered({ joined: await client.request('post', '/v1/invitations/accept', { body }) });
  });
  const decline = useAction(async () => {
    await client.request('post', '/v1/invitations/decline', { body });
    if (offer.data) onAnswered({ declined: offer.data });
  });
  if (offer.loading && !offer.data) return <Loading what="Reading the invitation" />;
  const i = offer.data;
  if (!i)
    return (
      <>
        <ErrorMessage error={offer.error} />
        <p>
          This link names no invitation that {me.user?.email ?? 'this account'} can answer: it was sent to
          another address, or it is mistyped. Sign in as the address the e-mail went to.
        </p>
      </>
    );
  const busy = accept.busy || decline.busy;
  return (
    <section className="stack" aria-labelledby="offer-title">
      <h2 id="offer-title">Join {i.org.name}</h2>
      <dl className="facts">
        <div>
          <dt>Organisation</dt>
          <dd>{i.org.name}</dd>
        </div>
        <div>
          <dt>Role</dt>
          <dd>{i.role}</dd>
        </div>
        <div>
          <dt>Invited by</dt>
          <dd>{i.invitedBy}</dd>
        </div>
        <div>
          <dt>Expires</dt>
          <dd>
            <TimeText iso={i.expiresAt} />
          </dd>
        </div>
      </dl>
      <p>Accepting adds {i.email} to it; nothing changes until you answer.</p>
      <div>
        <button type="button" className="primary" onClick={() => void accept.run()} disabled={busy}>
          Accept the invitation to {i.org.name}
        </button>{' '}
        <button type="button" onClick={() => void decline.run()} disabled={busy}>
          Decline
        </button>
      </div>
      <ErrorMessage error={accept.error ?? decline.error} />
    </section>
  );
}

/**
 * Where an invitation's link lands (`/invitations?token=…`, kept through signing in). An invitation is answered
 * only with its token: e-mail addresses are not verified at registration, so the account's address alone shows
 * nothing. Without a token the page says where invitations are answered.
 */
export function InvitationsPage() {
  const { reloadMe } = useApp();
  const { query } = useLocation();
  const token = query.get('token');
  const [outcome, setOutcome] = useState<Outcome>();
  const onAnswered = (value: Outcome) => {
    setOutcome(value);
    if ('joined' in value) void reloadMe();
    // The token is spent: it leaves the address bar (and the history) once used.
    navigate('/invitations', { replace: true });
  };
  return (
    <>
      <PageHeader title="Invitations" />
      {outcome && 'joined' in outcome ? (
        <p role="status">
          You joined {outcome.joined.org.name} as {outcome.joined.role}. Choose it in the organisation
          switcher to work in it.
        </p>
      ) : null}
      {outcome && 'declined' in outcome ? (
        <p role="status">You declined the invitation to {outcome.declined.org.name}.</p>
      ) : null}
      {token ? (
        <Offer key={token} token={token} onAnswered={onAnswered} />
      ) : (
        <p>
          An invitation to an organisation is answered from the link in its e-mail, or the link an owner or
          admin shared with you: open it while signed in as the invited address. Addresses are not verified
          when an account is made, so the link is what shows the invitation is yours.
        </p>
      )}
    </>
  );
}
