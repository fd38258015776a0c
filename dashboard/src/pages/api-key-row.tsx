import type { Schema } from '@meridian/sdk';
import { can, useApp } from '../api/context';
import { ConfirmButton } from '../components/confirm-button';
import { ErrorMessage } from '../components/error-message';
import { StatusBadge } from '../components/status-badge';
import { TimeText } from '../components/time-text';
import { useAction } from '../hooks/use-action';
import { formatTime } from '../lib/format';

/**
 * A key as a person tells it from the others: its name, which need not be unique (two keys named `ci`), with
 * the first characters of its secret and when it was made, both shown in its row.
 */
export function keyLabel(k: Pick<Schema<'ApiKey'>, 'name' | 'start' | 'createdAt'>): string {
  return `${k.name} (${k.start}…, created ${formatTime(k.createdAt)})`;
}

export function ApiKeyRow({
  apiKey: k,
  onRevoked,
}: {
  apiKey: Schema<'ApiKey'>;
  /** After the key is revoked: from when the audit log holds the invitations it took with it. */
  onRevoked(since: Date): void;
}) {
  const { client, role } = useApp();
  const revoke = useAction(async () => {
    // A minute back: the server's clock, which stamps the log, need not agree with the browser's.
    const since = new Date(Date.now() - 60_000);
    await client.request('delete', '/v1/api-keys/{id}', { path: { id: k.id } });
    onRevoked(since);
  });
  return (
    <tr>
      <td>{k.name}</td>
      <td>
        <code>{k.start}…</code>
      </td>
      <td>
        <StatusBadge status={k.status} />
      </td>
      <td>{k.scopes.join(', ')}</td>
      <td>{k.rateLimits.map((l) => `${l.name}: ${l.limit}/${l.periodSeconds}s`).join(', ') || '—'}</td>
      <td>
        <TimeText iso={k.createdAt} />
      </td>
      <td>
        <TimeText iso={k.expiresAt} />
      </td>
      <td>
        <TimeText iso={k.lastUsedAt} />
      </td>
      <td>
        {can.manage(role) && k.status === 'active' ? (
          <ConfirmButton
            label={`Revoke ${k.name}`}
            name={`Revoke ${keyLabel(k)}`}
            confirm={`Yes, revoke ${keyLabel(k)}`}
            onConfirm={() => void revoke.run()}
            disabled={revoke.busy}
          />
        ) : null}
        <ErrorMessage error={revoke.error} />
      </td>
    </tr>
  );
}
