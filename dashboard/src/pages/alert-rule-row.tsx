import type { Schema } from '@meridian/sdk';
import { can, useApp } from '../api/context';
import { ConfirmButton } from '../components/confirm-button';
import { ErrorMessage } from '../components/error-message';
import { useAction } from '../hooks/use-action';

type Rule = Schema<'AlertRule'>;

// A firing rule must stand out from one that is merely waiting out its `for` time.
const TONES: Record<Rule['state'], string> = { ok: 'ok', pending: 'busy', firing: 'bad' };

const METRICS: Record<Rule['metric'], string> = {
  error_rate: 'Error rate',
  p95_latency_ms: 'Latency p95 (ms)',
  ready_replicas: 'Ready replicas',
  lost_agent: 'Workloads on lost agents',
  spend_usd: 'Spend (USD)',
  quota_used: 'Quota used',
  drift_score: 'Drift score',
};

const minutes = (seconds: number) =>
  seconds % 3600 === 0 ? `${seconds / 3600} h` : `${Math.round(seconds / 60)} min`;

/** One alert rule; deleting it is for those who may change deployments (the API checks again). */
export function AlertRuleRow({ rule: r, onChange }: { rule: Rule; onChange(): void }) {
  const { client, role } = useApp();
  const remove = useAction(async () => {
    await client.request('delete', '/v1/alert-rules/{id}', { path: { id: r.id } });
    onChange();
  });
  return (
    <tr>
      <td>
        {r.name}
        <br />
        <span className="muted">{r.deploymentId === null ? 'every deployment' : 'this deployment'}</span>
      </td>
      <td>
        {METRICS[r.metric]}
        <br />
        <span className="muted">over {minutes(r.windowSeconds)}</span>
      </td>
      {/* ready_replicas fires below its threshold, every other metric above it (alert-state.ts). */}
      <td>
        {r.metric === 'ready_replicas' ? 'below' : 'above'} {r.threshold}
      </td>
      <td>
        {r.enabled ? (
          <span className={`badge badge-${TONES[r.state]}`}>{r.state}</span>
        ) : (
          <span className="badge badge-idle">disabled</span>
        )}
        {r.lastValue !== null ? <span className="muted"> last {r.lastValue}</span> : null}
      </td>
      {/* Viewers may not delete, so they get no button (and the table no column for it). */}
      {can.write(role) ? (
        <td>
          <ConfirmButton
            label={`Delete ${r.name}`}
            confirm={`Yes, delete ${r.name}`}
            onConfirm={() => void remove.run()}
            disabled={remove.busy}
          />
          <ErrorMessage error={remove.error} />
        </td>
      ) : null}
    </tr>
  );
}
