import { useApp } from '../api/context';
import { AppLink } from '../components/app-link';
import { ListState } from '../components/list-state';
import { LoadFailure } from '../components/load-failure';
import { Loading } from '../components/loading';
import { PageHeader } from '../components/page-header';
import { StatusBadge } from '../components/status-badge';
import { TableWrap } from '../components/table-wrap';
import { TimeText } from '../components/time-text';
import { useLoad } from '../hooks/use-load';
import { usePaged } from '../hooks/use-paged';
import { metricCell, metricColumns, runName } from './run-columns';

export function ExperimentPage({ id }: { id: string }) {
  const { client } = useApp();
  const experiment = useLoad(() => client.request('get', '/v1/experiments/{id}', { path: { id } }), [id]);
  const runs = usePaged(
    (cursor, limit) =>
      client.request('get', '/v1/experiments/{id}/runs', { path: { id }, query: { cursor, limit } }),
    [id],
    'runs',
  );
  if (!experiment.data)
    return experiment.error ? (
      <LoadFailure
        error={experiment.error}
        what="Experiment"
        list={{ to: '/experiments', name: 'experiments' }}
      />
    ) : (
      <Loading what="Loading the experiment" />
    );
  return (
    <>
      <PageHeader title={`Experiment ${experiment.data.name}`} />
      <p>{experiment.data.description}</p>
      <ListState list={runs} label="Runs" empty={null}>
        {(items) => {
          // Columns for the metrics this page's runs logged, so runs compare side by side.
          const keys = metricColumns(items);
          return (
            <TableWrap label="Runs table">
              <thead>
                <tr>
                  <th scope="col">Run</th>
                  <th scope="col">Status</th>
                  <th scope="col">Started</th>
                  <th scope="col">Ended</th>
                  {keys.map((key) => (
                    <th scope="col" key={key} className="numeric">
                      {key}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {items.map((r) => (
                  <tr key={r.id}>
                    <td>
                      <AppLink to={`/runs/${r.id}`}>{runName(r)}</AppLink>
                    </td>
                    <td>
                      <StatusBadge status={r.status} />
                    </td>
                    <td>
                      <TimeText iso={r.startedAt} />
                    </td>
                    <td>
                      <TimeText iso={r.endedAt} />
                    </td>
                    {keys.map((key) => (
                      <td key={key} className="numeric">
                        {metricCell(r, key)}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </TableWrap>
          );
        }}
      </ListState>
    </>
  );
}
