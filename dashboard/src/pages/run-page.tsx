import { useApp } from '../api/context';
import { AppLink } from '../components/app-link';
import { LoadFailure } from '../components/load-failure';
import { Loading } from '../components/loading';
import { PageHeader } from '../components/page-header';
import { StatusBadge } from '../components/status-badge';
import { TimeText } from '../components/time-text';
import { useLoad } from '../hooks/use-load';
import { MetricChart } from './metric-chart';
import { runTitle } from './run-columns';

/** A run: its parameters, a chart per metric, and the model versions registered from it. */
export function RunPage({ id }: { id: string }) {
  const { client } = useApp();
  const run = useLoad(async () => {
    const r = await client.request('get', '/v1/runs/{id}', { path: { id } });
    // The experiment's name, which the user gave; the run names only its id.
    const experiment = await client.request('get', '/v1/experiments/{id}', { path: { id: r.experimentId } });
    return { r, experimentName: experiment.name };
  }, [id]);
  if (!run.data)
    return run.error ? (
      <LoadFailure error={run.error} what="Run" list={{ to: '/experiments', name: 'experiments' }} />
    ) : (
      <Loading what="Loading the run" />
    );
  const { r, experimentName } = run.data;
  const tags = Object.entries(r.tags);
  const keys = [...new Set(r.metrics.map((m) => m.key))];
  return (
    <>
      <PageHeader title={runTitle(r)} />
      <p>
        <StatusBadge status={r.status} /> started <TimeText iso={r.startedAt} />
        {r.endedAt ? (
          <>
            , ended <TimeText iso={r.endedAt} />
          </>
        ) : null}
        , in experiment <AppLink to={`/experiments/${r.experimentId}`}>{experimentName}</AppLink>
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
      {tags.length > 0 ? (
        <>
          <h2>Tags</h2>
          <dl className="facts">
            {tags.map(([k, v]) => (
              <div key={k}>
                <dt>{k}</dt>
                <dd>{v}</dd>
              </div>
            ))}
          </dl>
        </>
      ) : null}
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
