import { useApp } from '../api/context';
import { AppLink } from '../components/app-link';
import { ErrorMessage } from '../components/error-message';
import { Loading } from '../components/loading';
import { PageHeader } from '../components/page-header';
import { StatusBadge } from '../components/status-badge';
import { TimeText } from '../components/time-text';
import { useLoad } from '../hooks/use-load';
import { MetricChart } from './metric-chart';

/** A run: its parameters, a chart per metric, and the model versions registered from it. */
export function RunPage({ id }: { id: string }) {
  const { client } = useApp();
  const run = useLoad(() => client.request('get', '/v1/runs/{id}', { path: { id } }), [id]);
  if (!run.data) return run.error ? <ErrorMessage error={run.error} /> : <Loading />;
  const r = run.data;
  const keys = [...new Set(r.metrics.map((m) => m.key))];
  return (
    <>
      <PageHeader title={`Run ${r.name || r.id}`} />
      <p>
        <StatusBadge status={r.status} /> started <TimeText iso={r.startedAt} />, in{' '}
        <AppLink to={`/experiments/${r.experimentId}`}>its experiment</AppLink>
      </p>
      <h2>Parameters</h2>
      <dl className="facts">
        {Object.entries(r.params).map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd>{v}</dd>
          </div>
        ))}
      </dl>
      <h2>Metrics</h2>
      {keys.length === 0 ? <p className="muted">No metrics logged.</p> : null}
      <div className="charts">
        {keys.map((key) => (
          <MetricChart key={key} runId={r.id} metric={key} />
        ))}
      </div>
      {r.modelVersions.length > 0 ? (
        <>
          <h2>Model versions from this run</h2>
          <ul>
            {r.modelVersions.map((v) => (
              <li key={v.id}>
                <AppLink to={`/models/${v.modelId}`}>{v.modelName}</AppLink> version {v.version}
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </>
  );
}
