import type { Schema } from '@meridian/sdk';
import { chartNumber } from '../components/line-chart';

type RunSummary = Schema<'RunSummary'>;

/** The most metric columns the runs table shows: wider tables stop being comparable at a glance. */
export const MAX_METRIC_COLUMNS = 6;

/**
 * The metric keys a page of runs is compared on: the keys the most runs logged first (so a key every run
 * has is not crowded out by one run's extra), then by name; at most `max`.
 */
export function metricColumns(runs: readonly RunSummary[], max = MAX_METRIC_COLUMNS): string[] {
  const counts = new Map<string, number>();
  for (const run of runs) for (const m of run.metrics) counts.set(m.key, (counts.get(m.key) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, max)
    .map(([key]) => key);
}

/** A run's latest value of `key` as the table shows it; empty when the run never logged it. */
export function metricCell(run: RunSummary, key: string): string {
  const point = run.metrics.find((m) => m.key === key);
  return point === undefined ? '' : chartNumber(point.value);
}
