import type { Schema } from '@meridian/sdk';
import { can, type Role, useApp } from '../api/context';
import { ConfirmButton } from '../components/confirm-button';
import { ErrorMessage } from '../components/error-message';
import { useAction } from '../hooks/use-action';
import type { MemberChange } from './revoked-invitations';

const ROLES: Role[] = ['owner', 'admin', 'member', 'viewer'];

export function MemberRow({
  member: m,
  onChange,
}: {
  member: Schema<'Member'>;
  /** After a change: which it was, and from when the audit log holds what it revoked. */
  onChange(change: MemberChange, since: Date): void;
}) {
  const { client, role, me } = useApp();
  // A minute back: the server's clock, which stamps the log, need not agree with the browser's.
  const aMinuteAgo = () => new Date(Date.now() - 60_000);
  const update = useAction(async (next: Role) => {
    const since = aMinuteAgo();
    await client.request('patch', '/v1/org/members/{userId}', {
      path: { userId: m.userId },
      body: { role: next },
    });
    onChange('member.role_change', since);
  });
  const remove = useAction(async () => {
    const since = aMinuteAgo();
    await client.request('delete', '/v1/org/members/{userId}', { path: { userId: m.userId } });
    onChange('member.remove', since);
  });
  const manage = can.manage(role) && m.userId !== me.user?.id;
  return (
    <tr>
      <td>{m.name}</td>
      <td>{m.email}</td>
      <td>
        {manage ? (
          <label>
            <span className="visually-hidden">Role of {m.name}</span>
            <select
              value={m.role}
              onChange={(e) => void update.run(e.target.value as Role)}
              disabled={update.busy}
            >
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </label>
        ) : (
          m.role
        )}
      </td>
      <td>
        {manage ? (
          <ConfirmButton
            label={`Remove ${m.name}`}
            confirm={`Yes, remove ${m.name}`}
            onConfirm={() => void remove.run()}
            disabled={remove.busy}
          />
        ) : null}
        <ErrorMessage error={update.error ?? remove.error} />
      </td>
    </tr>
  );
}
