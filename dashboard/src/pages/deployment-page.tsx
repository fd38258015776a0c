import { askedAlias } from '@meridian/sdk';
import { useEffect } from 'react';
import { can, useApp } from '../api/context';
import { AppLink } from '../components/app-link';
import { ConfirmButton } from '../components/confirm-button';
import { ErrorMessage } from '../components/error-message';
import { Loading } from '../components/loading';
import { PageHeader } from '../components/page-header';
import { StatusBadge } from '../components/status-badge';
import { TimeText } from '../components/time-text';
import { useAction } from '../hooks/use-action';
import { useLoad } from '../hooks/use-load';
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
  const { reload } = deployment;
  useEffect(() => {
    const timer = setInterval(reload, 3_000);
    return () => clearInterval(timer);
  }, [reload]);
  if (!deployment.data) return deployment.error ? <ErrorMessage error={deployment.error} /> : <Loading />;
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
