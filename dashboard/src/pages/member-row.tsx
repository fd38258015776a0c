import type { Schema } from '@meridian/sdk';
import { can, type Role, useApp } from '../api/context';
import { ConfirmButton } from '../components/confirm-button';
import { ErrorMessage } from '../components/error-message';
import { useAction } from '../hooks/use-action';

const ROLES: Role[] = ['owner', 'admin', 'member', 'viewer'];

export function MemberRow({ member: m, onChange }: { member: Schema<'Member'>; onChange(): void }) {
  const { client, role, me } = useApp();
  const update = useAction(async (next: Role) => {
    await client.request('patch', '/v1/org/members/{userId}', {
      path: { userId: m.userId },
      body: { role: next },
    });
    onChange();
  });
  const remove = useAction(async () => {
    await client.request('delete', '/v1/org/members/{userId}', { path: { userId: m.userId } });
    onChange();
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
          />
        ) : null}
        <ErrorMessage error={update.error ?? remove.error} />
      </td>
    </tr>
  );
}
