import type { Schema } from '@meridian/sdk';
import { chartNumber } from '../components/line-chart';
import { TIME_FORMAT } from '../lib/format';

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

// To the second: runs of one sweep often start within the same minute.
const startTime = new Intl.DateTimeFormat(undefined, { ...TIME_FORMAT, second: '2-digit' });

/**
 * The name a run was given, or '' for one created without: the API then names it `run-` and the last 8
 * characters of its id, which tells a person nothing.
 */
const givenName = (run: Pick<RunSummary, 'id' | 'name'>): string => {
  const name = run.name.trim();
  return name === `run-${run.id.slice(-8)}` ? '' : name;
};

/**
 * What a person reads for a run: the name it was given, or, for a run created without one, when it started
 * (`Run of 1 May 2026, 10:00:00 UTC`), never its id, which only the address needs.
 */
export function runName(run: Pick<RunSummary, 'id' | 'name' | 'startedAt'>): string {
  const name = givenName(run);
  if (name) return name;
  const started = new Date(run.startedAt);
  return Number.isNaN(started.getTime()) ? 'Run without a name' : `Run of ${startTime.format(started)}`;
}

/** A run page's title: `Run baseline`, or for a run without a name the time it started. */
export function runTitle(run: Pick<RunSummary, 'id' | 'name' | 'startedAt'>): string {
  const name = givenName(run);
  return name ? `Run ${name}` : runName(run);
}
