import type { Schema } from '@meridian/sdk';
import { TableWrap } from '../components/table-wrap';
import { TimeText } from '../components/time-text';
import { formatNumber } from '../lib/format';

type Deployment = Schema<'Deployment'>;
type Rollout = NonNullable<Deployment['rollout']>;
type Side = NonNullable<Rollout['figures']>['canary'];

// The rollout's own words for its states, and the badge tone each reads as (StatusBadge's tones, kept here so
// that a rolled-back canary reads as bad and a superseded one as merely over).
const STATES: Record<Rollout['state'], { text: string; tone: string }> = {
  canary: { text: 'canary in progress', tone: 'busy' },
  promoted: { text: 'promoted', tone: 'ok' },
  rolled_back: { text: 'rolled back', tone: 'bad' },
  cancelled: { text: 'cancelled', tone: 'idle' },
  superseded: { text: 'superseded', tone: 'idle' },
};

const percent = (share: number) => `${Math.round(share * 1000) / 10}%`;

/**
 * Which version takes what share of calls: all of them to the current version, or, while a canary runs, the
 * canary's share and the rest to the version it is compared with. Users know versions by the model's name and
 * number, so those are shown rather than ids; the newest rollout's outcome stays visible after it ends.
 */
export function DeploymentTraffic({ deployment: d }: { deployment: Deployment }) {
  const r = d.rollout;
  // A version number can be null (a revision that does not pin one); the revision still names it.
  const name = (version: number | null, revision: number) =>
    version === null ? `${d.modelName} (revision ${revision})` : `${d.modelName} version ${version}`;
  const live = r?.state === 'canary';
  return (
    <section aria-label="Traffic">
      <h2>Traffic</h2>
      {live ? (
        <TableWrap label="Traffic split">
          <caption>Share of calls by version (calls pinned to a version are not split)</caption>
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Role</th>
              <th scope="col">Share</th>
            </tr>
          </thead>
          <tbody>
            <tr>
              <td>{name(r.baseVersion, r.baseRevision)}</td>
              <td>current</td>
              <td>{percent(1 - r.share)}</td>
            </tr>
            <tr>
              <td>{name(r.version, r.revision)}</td>
              <td>canary</td>
              <td>{percent(r.share)}</td>
            </tr>
          </tbody>
        </TableWrap>
      ) : (
        <p>
          All calls go to <strong>{name(d.version.version, d.revision)}</strong> (revision {d.revision}).
        </p>
      )}
      {r ? <RolloutDetails rollout={r} name={name} /> : null}
    </section>
  );
}

function RolloutDetails({
  rollout: r,
  name,
}: {
  rollout: Rollout;
  name(version: number | null, revision: number): string;
}) {
  const state = STATES[r.state];
  return (
    <>
      <h3>{r.state === 'canary' ? 'Canary rollout' : 'Latest canary rollout'}</h3>
      <dl className="facts">
        <dt>Canary</dt>
        <dd>
          {name(r.version, r.revision)} against {name(r.baseVersion, r.baseRevision)}
        </dd>
        <dt>State</dt>
        <dd>
          <span className={`badge badge-${state.tone}`}>{state.text}</span>
        </dd>
        <dt>Share now</dt>
        <dd>{percent(r.share)}</dd>
        <dt>Steps</dt>
        <dd>
          {/* The step it is at is marked for screen readers too, not by emphasis alone. */}
          <ol className="phases" aria-label="Canary share by step">
            {r.steps.map((share, i) => (
              <li
                // Shares can repeat, so their place in the list is what tells them apart.
                // biome-ignore lint/suspicious/noArrayIndexKey: the steps never reorder
                key={i}
                aria-current={i + 1 === r.step ? 'step' : undefined}
                className={i + 1 <= r.step ? 'reached' : undefined}
              >
                {i + 1 === r.step ? <strong>{percent(share)}</strong> : percent(share)}
              </li>
            ))}
          </ol>
          <span className="muted">
            Step {r.step} of {r.steps.length}
            {r.stepStartedAt ? '' : ' (the canary’s replicas are starting)'}
          </span>
        </dd>
        <dt>Started</dt>
        <dd>
          <TimeText iso={r.createdAt} />
        </dd>
        {r.finishedAt ? (
          <>
            <dt>Ended</dt>
            <dd>
              <TimeText iso={r.finishedAt} />
            </dd>
          </>
        ) : null}
        {r.reason ? (
          <>
            <dt>{r.state === 'rolled_back' ? 'Why it rolled back' : 'Reason'}</dt>
            {/* Reasons quote figures and ids, which must wrap rather than push the page sideways. */}
            <dd className="break">{r.reason}</dd>
          </>
        ) : null}
      </dl>
      {r.figures ? (
        <TableWrap label="Canary figures">
          <caption>
            Latest figures of this step (judged <TimeText iso={r.figures.judgedAt} />)
          </caption>
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Calls</th>
              <th scope="col">Errors</th>
              <th scope="col">Error rate</th>
              <th scope="col">p95</th>
            </tr>
          </thead>
          <tbody>
            <FiguresRow label={`${name(r.version, r.revision)} (canary)`} side={r.figures.canary} />
            <FiguresRow label={name(r.baseVersion, r.baseRevision)} side={r.figures.base} />
          </tbody>
        </TableWrap>
      ) : (
        <p className="muted">No figures judged yet in this step.</p>
      )}
    </>
  );
}

function FiguresRow({ label, side }: { label: string; side: Side }) {
  return (
    <tr>
      <td>{label}</td>
      <td>{formatNumber(side.calls)}</td>
      <td>{formatNumber(side.errors)}</td>
      <td>{side.errorRate === null ? '—' : `${Math.round(side.errorRate * 10_000) / 100}%`}</td>
      <td>{side.p95Ms === null ? '—' : `${Math.round(side.p95Ms)} ms`}</td>
    </tr>
  );
}
