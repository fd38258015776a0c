import { DeploymentAlertRules } from './deployment-alert-rules';
import { DeploymentMetricsCharts } from './deployment-metrics-charts';

/** How the deployment is doing for its callers (the edge's last hour) and which alert rules watch it. */
export function DeploymentMonitoring({ id, name }: { id: string; name: string }) {
  return (
    <section aria-label="Monitoring">
      <h2>Monitoring</h2>
      <h3>Last hour</h3>
      <DeploymentMetricsCharts id={id} />
      <DeploymentAlertRules id={id} name={name} />
    </section>
  );
}
