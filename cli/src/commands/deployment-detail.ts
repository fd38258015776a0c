import { askedAlias, replicaCounts, type Schema } from '@meridian/sdk';
import { formatDuration } from '../durations.js';

type Deployment = Schema<'Deployment'>;
type Rollout = NonNullable<Deployment['rollout']>;

const percent = (share: number) => `${Math.round(share * 1000) / 10}%`;

/** `ocr-cls: ready — 1/1 replicas ready`: out of what the autoscaler wants now, not out of --min. */
export function phaseLine(d: Deployment): string {
  const { count, extra } = readyParts(d);
  return `${d.name}: ${d.status}${d.statusReason ? ` (${d.statusReason})` : ''} — ${count} replicas ready${extra}`;
}

/** `1/1`, or `1/1 (+1 retiring)` while an old replica finishes: ready out of what the autoscaler wants. */
export function readyCell(d: Deployment): string {
  const { count, extra } = readyParts(d);
  return `${count}${extra}`;
}

/** `1/1` and ` (+1 retiring)`, ` (+1 canary)` or nothing: the ready replicas beyond what the autoscaler wants. */
function readyParts(d: Deployment): { count: string; extra: string } {
  const { ready, wanted, extra, extraAre } = replicaCounts(d);
  return { count: `${ready}/${wanted}`, extra: extra > 0 ? ` (+${extra} ${extraAre})` : '' };
}

/** The version serving, and while a canary runs the one taking its share: `1 → 2 (25%)`. */
export function versionCell(d: Deployment): string {
  const r = d.rollout;
  if (r?.state !== 'canary') return String(d.version.version);
  return `${d.version.version} → ${r.version ?? '?'} (${percent(r.share)})`;
}

/**
 * `1 of 2 ready; loading 1`, `0 of 0 ready, 1 retiring (taking no new calls)`: ready out of what the
 * autoscaler wants, the ready ones beyond it said for what they are (a retiring replica has left routing and
 * stops once it has finished its calls), then the replicas in other phases. Ready replicas are counted once:
 * `0/0 (+1 retiring) ready (ready 1)` read as a contradiction.
 */
function replicasLine(d: Deployment): string {
  const { ready, wanted, extra, extraAre } = replicaCounts(d);
  const beyond =
    extra === 0
      ? ''
      : extraAre === 'retiring'
        ? `, ${extra} retiring (taking no new calls)`
        : `, ${extra} canary`;
  const { total, ready: _ready, ...byPhase } = d.replicas;
  const others = Object.entries(byPhase)
    .filter(([, n]) => n > 0)
    .map(([phase, n]) => `${phase} ${n}`);
  const rest = total === 0 ? '; none running' : others.length > 0 ? `; ${others.join(', ')}` : '';
  return `${ready} of ${wanted} ready${beyond}${rest}`;
}

function scaling(d: Deployment): string {
  const range = d.minReplicas === d.maxReplicas ? `${d.minReplicas}` : `${d.minReplicas}–${d.maxReplicas}`;
  const toZero =
    d.minReplicas === 0 && d.scaleToZeroAfterSeconds !== null
      ? `to zero after ${formatDuration(d.scaleToZeroAfterSeconds)} without calls`
      : 'never to zero';
  return (
    `${range} replica${range === '1' ? '' : 's'}, ${d.targetConcurrency} calls in flight per replica; up after ` +
    `${formatDuration(d.scaleUpDelaySeconds)}, down after ${formatDuration(d.scaleDownDelaySeconds)}, ${toZero}`
  );
}

function batching(d: Deployment): string {
  if (!d.batching) return "the agent's own (up to 32 calls, no added delay)";
  const { maxBatchSize, maxQueueDelayMs } = d.batching;
  return `up to ${maxBatchSize} calls together, a call waits up to ${maxQueueDelayMs} ms for others`;
}

/** `judged 12:00:03Z: v2 12 calls, 0 5xx, p95 4 ms; v1 40 calls, 0 5xx, p95 3 ms`. */
function figures(r: Rollout): string {
  if (!r.figures) return 'no calls judged yet';
  const side = (version: number | null, s: NonNullable<Rollout['figures']>['canary']) =>
    `v${version ?? '?'} ${s.calls} calls, ${s.errors} 5xx, p95 ${s.p95Ms === null ? '—' : `${Math.round(s.p95Ms)} ms`}`;
  return `${side(r.version, r.figures.canary)}; ${side(r.baseVersion, r.figures.base)}`;
}

/** The newest rollout in a line (and the figures it was last judged on, while it runs). */
export function rolloutLine(r: Rollout): string {
  const name = `canary v${r.version ?? '?'}`;
  switch (r.state) {
    case 'canary': {
      const steps = r.steps.length - 1;
      const waiting = r.stepStartedAt === null ? ', its replicas starting' : '';
      return `${name}: step ${r.step} of ${steps}, ${percent(r.share)} of calls${waiting} (${figures(r)})`;
    }
    case 'promoted':
      return `${name} promoted${r.finishedAt ? ` at ${r.finishedAt}` : ''}`;
    default:
      // The server's reason is a whole sentence that names the canary and how it ended, with its figures.
      return r.reason ?? `${name} ${r.state.replace('_', ' ')}`;
  }
}

/**
 * How the served version was asked for, when not by its number. An alias is read when the deployment is
 * created or updated, not followed afterwards: when it has moved on (`aliasNow`: the version it names now,
 * null once deleted), the line says so and how to serve what it names.
 */
export function requestedAs(d: Deployment, aliasNow?: number | null): string | undefined {
  const alias = askedAlias(d);
  if (alias === undefined)
    return d.version.requested.startsWith('version:') ? undefined : `asked as ${d.version.requested}`;
  if (aliasNow === undefined || aliasNow === d.version.version) return `alias ${alias}`;
  if (aliasNow === null) return `asked as alias ${alias}, deleted since`;
  const name = d.name === d.modelName ? '' : ` --name ${d.name}`;
  return `asked as alias ${alias}, which now names v${aliasNow}: \`meridian deploy ${d.modelName}${name} --alias ${alias}\` serves it`;
}

function modelLine(d: Deployment, aliasNow: number | null | undefined): string {
  const how = requestedAs(d, aliasNow);
  return `${d.modelName} v${d.version.version}${how ? ` (${how})` : ''}`;
}

/** Why it cannot start, from the API's `startProblem`; no row while it starts, serves or idles. */
function startProblemRow(d: Deployment): [string, string][] {
  const p = d.startProblem;
  if (!p) return [];
  if (p.kind === 'unplaceable') return [['cannot start', `no host fits its replicas now: ${p.message}`]];
  const retry = p.retryAt ? `; next attempt at ${p.retryAt}` : '';
  return [['cannot start', `its last start failed: ${p.message}${retry}`]];
}

/** Everything a person asks of one deployment, a labelled line each. */
export function deploymentDetail(d: Deployment, edgeUrl: string, aliasNow?: number | null): string {
  const hardware = d.gpuType === 'cpu' ? 'cpu' : `${d.gpuCount} × ${d.gpuType}`;
  const runtime = d.image ? `${d.runtime} (${d.image})` : d.runtime;
  const rows: [string, string][] = [
    ['model', modelLine(d, aliasNow)],
    ['status', `${d.status}${d.statusReason ? ` (${d.statusReason})` : ''}`],
    ...startProblemRow(d),
    ['replicas', replicasLine(d)],
    ['scaling', scaling(d)],
    ['cold calls', `held up to ${formatDuration(d.holdTimeoutSeconds)} while no replica is ready`],
    ['runs on', `${hardware}, ${runtime}`],
    ['batching', batching(d)],
    ['cache', d.deterministic ? "repeats of an input are answered from the edge's cache" : 'off'],
  ];
  if (d.rollout) rows.push(['rollout', rolloutLine(d.rollout)]);
  rows.push(
    ['predict', `POST ${edgeUrl.replace(/\/+$/, '')}/v2/models/${encodeURIComponent(d.name)}/infer`],
    ['created', d.createdAt],
  );
  const width = Math.max(...rows.map(([label]) => label.length));
  return [`${d.name} (${d.id})`, ...rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`)].join(
    '\n',
  );
}
