import { askedAlias } from '@meridian/sdk';
import { can, useApp } from '../api/context';
import { isUnauthenticated } from '../api/session';
import { AppLink } from '../components/app-link';
import { ConfirmButton } from '../components/confirm-button';
import { ErrorMessage } from '../components/error-message';
import { LoadFailure } from '../components/load-failure';
import { Loading } from '../components/loading';
import { PageHeader } from '../components/page-header';
import { StatusBadge } from '../components/status-badge';
import { TimeText } from '../components/time-text';
import { useAction } from '../hooks/use-action';
import { useLoad } from '../hooks/use-load';
import { usePolling } from '../hooks/use-polling';
import { isNotFound } from '../lib/errors';
import { hardwareText } from '../lib/gpus';
import { navigate } from '../lib/router';
import { DeploymentEvents } from './deployment-events';
import { DeploymentLogs } from './deployment-logs';
import { DeploymentMonitoring } from './deployment-monitoring';
import { DeploymentReplicas } from './deployment-replicas';
import { DeploymentTraffic } from './deployment-traffic';
import { RolloutForm } from './rollout-form';
import { ServingSettingsForm } from './serving-settings-form';

/**
 * One deployment, live: status and phases every few seconds, which version takes what share of calls (and its
 * canary) and rolling out another, replicas by phase, scaling and serving settings, the last hour's metrics
 * and its alert rules, events, logs.
 */
export function DeploymentPage({ id }: { id: string }) {
  const { client, role } = useApp();
  const deployment = useLoad(() => client.request('get', '/v1/deployments/{id}', { path: { id } }), [id]);
  // Its replicas stop; the list it is gone from is where to go next.
  const remove = useAction(async () => {
    await client.request('delete', '/v1/deployments/{id}', { path: { id } });
    navigate('/deployments');
  });
  // Refreshed in place: a failed refresh (a session ending, the network) leaves the page and its half-filled
  // forms as they were, beside the error; only its deletion (here or elsewhere) takes the page away.
  const { refresh } = deployment;
  const reload = () => void refresh();
  usePolling(refresh, 3_000);
  const gone = isNotFound(deployment.error);
  if (!deployment.data || gone)
    return deployment.error ? (
      <LoadFailure
        error={deployment.error}
        what="Deployment"
        list={{ to: '/deployments', name: 'deployments' }}
      />
    ) : (
      <Loading what="Loading the deployment" />
    );
  const d = deployment.data;
  const alias = askedAlias(d);
  return (
    <>
      <PageHeader title={`Deployment ${d.name}`}>
        {can.write(role) ? (
          <ConfirmButton
            label={`Delete ${d.name}`}
            confirm={`Yes, delete ${d.name} and stop its replicas`}
            onConfirm={() => void remove.run()}
            disabled={remove.busy}
          />
        ) : null}
      </PageHeader>
      <ErrorMessage error={remove.error} />
      {/* While the session is renewed (a login dialog is open over the page), what was shown stays as it was. */}
      {isUnauthenticated(deployment.error) ? null : <ErrorMessage error={deployment.error} />}
      <p role="status" aria-live="polite">
        <StatusBadge status={d.status} /> {d.statusReason ?? ''}
      </p>
      <dl className="facts">
        <dt>Model</dt>
        <dd>
          <AppLink to={`/models/${d.modelId}`}>{d.modelName}</AppLink> version {d.version.version}
          {/* An alias is resolved when the deployment is updated, not followed; a number needs no aside. */}
          {alias === undefined ? '' : ` (alias ${alias})`}
        </dd>
        <dt>Runtime</dt>
        <dd>
          {d.runtime} on {hardwareText(d)}
        </dd>
        <dt>Revision</dt>
        <dd>{d.revision}</dd>
        <dt>Created</dt>
        <dd>
          <TimeText iso={d.createdAt} />
        </dd>
      </dl>
      <DeploymentTraffic deployment={d} />
      <RolloutForm deployment={d} onDone={reload} />
      <DeploymentReplicas replicas={d.replicas} />
      <ServingSettingsForm deployment={d} onSaved={reload} />
      <DeploymentMonitoring id={d.id} name={d.name} />
      <DeploymentEvents id={d.id} />
      <DeploymentLogs id={d.id} />
    </>
  );
}
