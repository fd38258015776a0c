import type { Schema } from '@meridian/sdk';

import { useApp } from '../api/context';
import { BarChart } from '../components/bar-chart';
import { EmptyState } from '../components/empty-state';
import { ErrorMessage } from '../components/error-message';
import { LineChart, type Point } from '../components/line-chart';
import { Loading } from '../components/loading';
import { useLoad } from '../hooks/use-load';
import { usePolling } from '../hooks/use-polling';

type Metrics = Schema<'DeploymentMetrics'>;
type Histogram = Schema<'LatencyHistogram'>;
type Counts = Metrics['series'][number]['points'][number]['requests'];

const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
const QUANTILES = [
  ['p50', 0.5],
  ['p95', 0.95],
  ['p99', 0.99],
] as const;
// The API keeps minute rows for 48 hours; a minute is also its finest step, so a new point comes each minute.
const REFRESH_MS = 60_000;

const minuteOf = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const clock = (ms: number) => minuteOf.format(new Date(ms));

/** One minute of the whole deployment: every version's calls and latency histogram added up. */
interface Minute {
  at: number;
  requests: Counts;
  counts: number[];
}

/**
 * Quantiles cannot be added across versions, but histograms can: this mirrors the API's estimate (linear inside
 * the bucket, as Prometheus' histogram_quantile; the +Inf bucket answers the last bound), so a deployment with
 * one version gets exactly the API's p50 / p95 / p99.
 */
function quantile(counts: number[], bounds: number[], q: number): number | null {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i += 1) {
    const c = counts[i] ?? 0;
    if (c > 0 && seen + c >= rank) {
      const upper = bounds[i];
      if (upper === undefined) return bounds.at(-1) ?? 0;
      const lower = i === 0 ? 0 : (bounds[i - 1] ?? 0);
      return lower + ((upper - lower) * (rank - seen)) / c;
    }
    seen += c;
  }
  return bounds.at(-1) ?? 0;
}

function byMinute(metrics: Metrics): Minute[] {
  const minutes = new Map<number, Minute>();
  for (const series of metrics.series) {
    for (const p of series.points) {
      const at = Date.parse(p.at);
      const m = minutes.get(at) ?? {
        at,
        requests: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 },
        counts: [],
      };
      for (const k of CLASSES) m.requests[k] += p.requests[k];
      addHistogram(m.counts, p.latency);
      minutes.set(at, m);
    }
  }
  return [...minutes.values()].sort((a, b) => a.at - b.at);
}

function addHistogram(into: number[], h: Histogram) {
  h.counts.forEach((c, i) => {
    into[i] = (into[i] ?? 0) + c;
  });
}

/**
 * The last hour of the deployment, minute by minute, as the edge counted it: calls by the status class callers
 * got (a total per class, then each class that had calls over time) and the latency callers saw.
 */
export function DeploymentMetricsCharts({ id }: { id: string }) {
  const { client } = useApp();
  const metrics = useLoad(
    () => client.request('get', '/v1/deployments/{id}/metrics', { path: { id }, query: { step: 60 } }),
    [id],
  );
  // Refreshed in place: a failed turn (an ended session, the network) leaves the charts as they were.
  usePolling(metrics.refresh, REFRESH_MS);
  if (!metrics.data) {
    return metrics.error ? <ErrorMessage error={metrics.error} /> : <Loading what="Loading metrics" />;
  }
  const minutes = byMinute(metrics.data);
  const totals = CLASSES.map((k) => ({
    label: k,
    value: minutes.reduce((sum, m) => sum + m.requests[k], 0),
  }));
  if (totals.every((t) => t.value === 0)) {
    return (
      <EmptyState title="No calls in the last hour">
        <p>Calls to this deployment show here within a minute or two.</p>
      </EmptyState>
    );
  }
  const bounds = metrics.data.buckets;
  const calls = CLASSES.filter((k) => totals.some((t) => t.label === k && t.value > 0));
  const latency = QUANTILES.map(([name, q]) => ({
    name,
    points: minutes.flatMap((m): Point[] => {
      const ms = quantile(m.counts, bounds, q);
      return ms === null ? [] : [{ x: m.at, y: Math.round(ms * 10) / 10 }];
    }),
  }));
  return (
    <div className="charts">
      <BarChart title="Calls by status class, last hour" bars={totals} unit="calls" tick={(label) => label} />
      {calls.map((k) => (
        <LineChart
          key={k}
          title={`${k} calls per minute`}
          points={minutes.map((m) => ({ x: m.at, y: m.requests[k] }))}
          formatX={clock}
        />
      ))}
      {latency.map(({ name, points }) => (
        <LineChart key={name} title={`Latency ${name} (ms) per minute`} points={points} formatX={clock} />
      ))}
    </div>
  );
}
