import type { Schema } from '@meridian/sdk';
import { useEffect, useState } from 'react';
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
  const { client, role: myRole, me } = useApp();
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
  const manage = can.manage(myRole) && m.userId !== me.user?.id;
  // Names are not unique (two members may both be Sam): the address, shown in the row, is.
  const who = `${m.name} (${m.email})`;
  // The role chosen is applied by its own button: arrow keys on a focused select change its value (and fire
  // change) at every press, so applying on change would grant or take a role at each key on the way.
  const [role, setRole] = useState(m.role as Role);
  useEffect(() => setRole(m.role as Role), [m.role]);
  return (
    <tr>
      <td>{m.name}</td>
      <td>{m.email}</td>
      <td>
        {manage ? (
          <span className="inline-form">
            <label>
              <span className="visually-hidden">Role of {who}</span>
              <select value={role} onChange={(e) => setRole(e.target.value as Role)} disabled={update.busy}>
                {ROLES.map((r) => (
                  <option key={r} value={r}>
                    {r}
                  </option>
                ))}
              </select>
            </label>
            {role === m.role ? null : (
              <button
                type="button"
                aria-label={`Make ${m.name} ${role} (${m.email})`}
                onClick={() => void update.run(role)}
                disabled={update.busy}
              >
                Make {m.name} {role}
              </button>
            )}
          </span>
        ) : (
          m.role
        )}
      </td>
      <td>
        {manage ? (
          <ConfirmButton
            label={`Remove ${m.name}`}
            name={`Remove ${who}`}
            confirm={`Yes, remove ${who}`}
            onConfirm={() => void remove.run()}
            disabled={remove.busy}
          />
        ) : null}
        <ErrorMessage error={update.error ?? remove.error} />
      </td>
    </tr>
  );
}
