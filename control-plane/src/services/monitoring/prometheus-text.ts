import {
  emptyHistogram,
  LATENCY_BUCKET_BOUNDS_MS,
  type LatencyHistogram,
  STATUS_CLASSES,
} from '@meridian/protocol';
import { eq } from 'drizzle-orm';
import { requirePermission } from '../../auth/permissions.js';
import type { Principal } from '../../auth/principal.js';
import type { Database } from '../../db/client.js';
import { deploymentMetrics, deployments, modelVersions } from '../../db/schema.js';
import { addRow } from './query-metrics.js';

type Acc = Parameters<typeof addRow>[0];

/**
 * The org's per-deployment metrics in Prometheus text format, named as the user knows them (deployment name,
 * version number), totals since the oldest kept hour (90 days): counters may drop when that hour leaves
 * retention, which Prometheus reads as a reset. Only the caller's org's series, ever.
 */
export async function renderOrgMetrics(db: Database, principal: Principal): Promise<string> {
  requirePermission(principal, 'metrics:read');
  const orgId = principal.orgId;
  const rows = await db
    .select({
      row: deploymentMetrics,
      name: deployments.name,
      version: modelVersions.version,
    })
    .from(deploymentMetrics)
    .innerJoin(deployments, eq(deployments.id, deploymentMetrics.deploymentId))
    .leftJoin(modelVersions, eq(modelVersions.id, deploymentMetrics.versionId))
    .where(
      // Both sides filter by org: a row is shown only when it and its deployment are the caller's.
      eq(deploymentMetrics.orgId, orgId),
    );
  const series = new Map<string, { labels: string; acc: Acc }>();
  for (const { row, name, version } of rows) {
    if (row.resolution !== 3600) continue;
    const labels = `deployment="${escapeLabel(name)}",version="${version ?? 'none'}"`;
    let s = series.get(labels);
    if (!s) {
      s = {
        labels,
        acc: {
          requests: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 },
          latency: emptyHistogram(),
          queue: emptyHistogram(),
          compute: emptyHistogram(),
        },
      };
      series.set(labels, s);
    }
    addRow(s.acc, row);
  }
  const lines: string[] = [];
  const all = [...series.values()].sort((a, b) => a.labels.localeCompare(b.labels));
  lines.push('# HELP meridian_deployment_requests_total Prediction calls by the status class callers got');
  lines.push('# TYPE meridian_deployment_requests_total counter');
  for (const s of all) {
    for (const cls of STATUS_CLASSES) {
      const n = s.acc.requests[cls];
      if (n > 0) lines.push(`meridian_deployment_requests_total{${s.labels},status_class="${cls}"} ${n}`);
    }
  }
  const histograms = [
    [
      'meridian_deployment_request_duration_seconds',
      'latency',
      'At the edge: from receiving a call to the last byte of the answer',
    ],
    [
      'meridian_deployment_queue_duration_seconds',
      'queue',
      'On the agents: time a call waited before compute',
    ],
    ['meridian_deployment_compute_duration_seconds', 'compute', 'On the agents: model compute time'],
  ] as const;
  for (const [metric, field, help] of histograms) {
    lines.push(`# HELP ${metric} ${help}`);
    lines.push(`# TYPE ${metric} histogram`);
    for (const s of all) lines.push(...histogramLines(metric, s.labels, s.acc[field]));
  }
  return `${lines.join('\n')}\n`;
}

function histogramLines(metric: string, labels: string, h: LatencyHistogram): string[] {
  const out: string[] = [];
  let cumulative = 0;
  LATENCY_BUCKET_BOUNDS_MS.forEach((bound, i) => {
    cumulative += h.counts[i] ?? 0;
    out.push(`${metric}_bucket{${labels},le="${bound / 1000}"} ${cumulative}`);
  });
  cumulative += h.counts[LATENCY_BUCKET_BOUNDS_MS.length] ?? 0;
  if (cumulative === 0) return [];
  out.push(`${metric}_bucket{${labels},le="+Inf"} ${cumulative}`);
  out.push(`${metric}_sum{${labels}} ${h.sumMs / 1000}`);
  out.push(`${metric}_count{${labels}} ${cumulative}`);
  return out;
}

/** Label values escaped as the text format wants: backslash, double quote and newline. */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
