import type { Schema } from '@meridian/sdk';
import { type FormEvent, useState } from 'react';
import type { Role } from '../api/context';
import { useApp } from '../api/context';
import { CopyButton } from '../components/copy-button';
import { ErrorMessage } from '../components/error-message';
import { Field } from '../components/field';
import { useAction } from '../hooks/use-action';

/** What came of an invitation: mailed, or the link to pass on, shown this once. */
function Invited({ created }: { created: Schema<'CreatedInvitation'> }) {
  const { invitation } = created;
  if (created.mailSent)
    return (
      <p role="status">
        Invitation mailed to {invitation.email} as {invitation.role}; they join once they accept it.
      </p>
    );
  return (
    <div className="stack">
      <p role="status">
        Invited {invitation.email} as {invitation.role}, but no mail was sent ({created.mailError}). Pass them
        this link (shown this once); they accept it signed in as {invitation.email}:
      </p>
      <p className="secret">
        <code data-testid="invitation-link">{created.acceptUrl}</code>{' '}
        <CopyButton text={created.acceptUrl ?? ''} label="Copy link" />
      </p>
    </div>
  );
}

/** Invites someone by e-mail with a role: nobody joins without accepting. */
export function MemberForm({ onAdded }: { onAdded(): void }) {
  const { client, role } = useApp();
  const [form, setForm] = useState<{ email: string; role: Role }>({ email: '', role: 'member' });
  const [created, setCreated] = useState<Schema<'CreatedInvitation'>>();
  const invite = useAction(async () => {
    setCreated(await client.request('post', '/v1/org/invitations', { body: form }));
    setForm({ ...form, email: '' });
    onAdded();
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setCreated(undefined);
    void invite.run();
  };
  // Only owners grant the owner role; the API refuses an admin's invitation to it as well.
  const roles: Role[] =
    role === 'owner' ? ['owner', 'admin', 'member', 'viewer'] : ['admin', 'member', 'viewer'];
  return (
    <form onSubmit={submit} className="inline-form" aria-label="Invite a member">
      <Field label="Email to invite">
        <input
          type="email"
          value={form.email}
          onChange={(e) => setForm({ ...form, email: e.target.value })}
          required
        />
      </Field>
      <Field label="Role">
        <select value={form.role} onChange={(e) => setForm({ ...form, role: e.target.value as Role })}>
          {roles.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
      </Field>
      <button type="submit" disabled={invite.busy}>
        Invite
      </button>
      <ErrorMessage error={invite.error} />
      {created ? <Invited created={created} /> : null}
    </form>
  );
}
