import { useApp } from '../api/context';
import { BarChart } from '../components/bar-chart';
import { ErrorMessage } from '../components/error-message';
import { Loading } from '../components/loading';
import { useLoad } from '../hooks/use-load';
import { lastUtcDays } from '../lib/usage-range';

const DAYS = 14;

/** Calls per UTC day and CPU / GPU minutes per day, over the last two weeks. */
export function UsageByDay() {
  const { client } = useApp();
  const usage = useLoad(() => {
    const { from, to } = lastUtcDays(DAYS);
    return client.request('get', '/v1/billing/usage', { query: { groupBy: 'day', from, to } });
  }, []);
  if (!usage.data)
    return usage.error ? <ErrorMessage error={usage.error} /> : <Loading what="Loading usage" />;
  const { labels } = lastUtcDays(DAYS);
  const perDay = (meters: (m: string) => boolean) =>
    labels.map((label) => ({
      label,
      value: Math.round(
        (usage.data?.lines ?? [])
          .filter((l) => l.key === label && meters(l.meter))
          .reduce((sum, l) => sum + l.rawQuantity, 0),
      ),
    }));
  const calls = perDay((m) => m === 'inference_calls');
  const computeLines = usage.data.lines.filter((l) => l.meter.endsWith('_minutes'));
  const unit = computeLines[0]?.rawUnit ?? 'seconds';
  const compute = perDay((m) => m.endsWith('_minutes'));
  return (
    <section aria-label="Usage per day" data-testid="usage-by-day">
      <h2>Per day (UTC), last {DAYS} days</h2>
      <div className="charts">
        <BarChart title="Prediction calls per day" bars={calls} unit="calls" />
        <BarChart title={`CPU and GPU time per day (${unit})`} bars={compute} unit={unit} />
      </div>
      <p>
        Total so far in this range: <strong>${usage.data.totalUsd}</strong>
      </p>
    </section>
  );
}
