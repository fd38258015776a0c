import { collect, paginate } from '@meridian/sdk';
import { useApp } from '../api/context';
import { ErrorMessage } from '../components/error-message';
import { LineChart } from '../components/line-chart';
import { Loading } from '../components/loading';
import { useLoad } from '../hooks/use-load';

export function MetricChart({ runId, metric }: { runId: string; metric: string }) {
  const { client } = useApp();
  const history = useLoad(
    () =>
      collect(
        paginate((cursor) =>
          client.request('get', '/v1/runs/{id}/metrics/{key}/history', {
            path: { id: runId, key: metric },
            query: { cursor, limit: 1000 },
          }),
        ),
      ),
    [runId, metric],
  );
  if (!history.data) return history.error ? <ErrorMessage error={history.error} /> : <Loading />;
  return <LineChart title={metric} points={history.data.map((p) => ({ x: p.step, y: p.value }))} />;
}
