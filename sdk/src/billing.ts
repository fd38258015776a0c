import type { Schema } from './types.js';

type UsageLine = Schema<'UsageSummary'>['lines'][number];

/**
 * What a usage line grouped by deployment or notebook is about, for people: the name its owner gave (a
 * deleted one keeps its id). A line outside the grouping has no key; its meter tells what it is: compute
 * minutes of no deployment are notebooks', those of no notebook are deployments', and storage is storage.
 */
export function usageLineSubject(groupBy: 'deployment' | 'notebook', line: UsageLine): string {
  if (line.key !== null) return line.name ?? `${line.key} (deleted)`;
  if (line.meter === 'storage_mb_hours') return '(storage)';
  if (line.meter.endsWith('_minutes')) return groupBy === 'deployment' ? '(notebooks)' : '(deployments)';
  return groupBy === 'deployment' ? '(no deployment)' : '(no notebook)';
}
