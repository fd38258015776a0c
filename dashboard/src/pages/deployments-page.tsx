import { replicaCounts, type Schema } from '@meridian/sdk';
import { useApp } from '../api/context';
import { AppLink } from '../components/app-link';
import { ListState } from '../components/list-state';
import { PageHeader } from '../components/page-header';
import { StatusBadge } from '../components/status-badge';
import { TableWrap } from '../components/table-wrap';
import { TimeText } from '../components/time-text';
import { usePaged } from '../hooks/use-paged';
import { hardwareText } from '../lib/gpus';

export function DeploymentsPage() {
  const { client } = useApp();
  const list = usePaged(
    (cursor, limit) => client.request('get', '/v1/deployments', { query: { cursor, limit } }),
    [],
    'deployments',
  );
  return (
    <>
      <PageHeader title="Deployments">
        <button type="button" onClick={list.reload}>
          Refresh
        </button>
      </PageHeader>
      <ListState list={list} label="Deployments" empty={<AppLink to="/">Deploy a model</AppLink>}>
        {(items) => (
          <TableWrap label="Deployments table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col">Model</th>
                <th scope="col">Replicas ready</th>
                <th scope="col">Hardware</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {items.map((d) => (
                <DeploymentRow key={d.id} deployment={d} />
              ))}
            </tbody>
          </TableWrap>
        )}
      </ListState>
    </>
  );
}

/** A deployment's row: name, status, model (and a canary), replicas, hardware, last update. */
export function DeploymentRow({ deployment: d }: { deployment: Schema<'Deployment'> }) {
  return (
    <tr>
      <td>
        <AppLink to={`/deployments/${d.id}`}>{d.name}</AppLink>
      </td>
      <td>
        <StatusBadge status={d.status} />
      </td>
      <td>
        {d.modelName} v{d.version.version}
        {d.rollout?.state === 'canary'
          ? ` → v${d.rollout.version} (${Math.round(d.rollout.share * 100)}% as a canary)`
          : ''}
      </td>
      <td>
        <ReadyReplicas deployment={d} />
      </td>
      <td>{hardwareText(d)}</td>
      <td>
        <TimeText iso={d.updatedAt} />
      </td>
    </tr>
  );
}

/** Ready out of what the autoscaler wants now; a canary's or a rolling update's extra replicas apart, not owed. */
function ReadyReplicas({ deployment }: { deployment: Schema<'Deployment'> }) {
  const { ready, wanted, extra, extraAre } = replicaCounts(deployment);
  return (
    <>
      {ready} / {wanted}
      {extra > 0 ? (
        <span className="muted">
          {' '}
          (+{extra} {extraAre})
        </span>
      ) : null}
    </>
  );
}
