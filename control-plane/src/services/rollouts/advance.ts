import { newId } from '@meridian/protocol';
import { and, eq } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { deploymentEvents, deploymentRollouts, deployments } from '../../db/schema.js';
import type { ClusterView, DeploymentView } from '../scheduler/cluster-view.js';
import { judgeStep, windowOf } from './judge.js';
import { readTotals, sinceOf } from './measure.js';
import { describeCanary, percent } from './policy.js';
import type { CanaryRouting } from './routing.js';

type RolloutRow = typeof deploymentRollouts.$inferSelect;

/** Failed attempts of a canary replica after which the canary is rolled back rather than retried again. */
const FAILED_ATTEMPTS = 2;

/**
 * One scheduler tick's work on running canaries: a step's window starts once the canary has a ready replica,
 * each step is judged on the edge's figures (./judge.ts), a passed step moves to the next share or promotes
 * the canary, a failed one rolls it back: the deployment's calls all go to the old revision again and the
 * canary's replicas are retired. Answers the canaries that still share calls in this tick, and whether it
 * wrote (the tick after should follow at once).
 */
export async function advanceRollouts(
  db: Database,
  view: ClusterView,
  now: number,
): Promise<{ canaries: Map<string, CanaryRouting>; changed: boolean }> {
  const rows = await db.select().from(deploymentRollouts).where(eq(deploymentRollouts.state, 'canary'));
  const canaries = new Map<string, CanaryRouting>();
  let changed = false;
  const byId = new Map(view.deployments.map((d) => [d.id, d]));
  for (const row of rows) {
    const d = byId.get(row.deploymentId);
    if (!d || d.revision !== row.baseRevision) continue;
    const outcome = await advanceOne(db, view, d, row, now);
    if (outcome !== 'unchanged') changed = true;
    if (outcome === 'rolled_back') continue;
    // Until its step starts (this tick, or once a replica serves) the canary takes no calls.
    const started = row.stepStartedAt !== null || outcome === 'written';
    const share = row.policy.steps[Math.min(row.step, row.policy.steps.length - 1)] ?? 0;
    canaries.set(d.id, {
      revision: row.revision,
      baseRevision: row.baseRevision,
      share: started ? share : 0,
    });
  }
  return { canaries, changed };
}

type Outcome = 'unchanged' | 'written' | 'rolled_back';

async function advanceOne(
  db: Database,
  view: ClusterView,
  d: DeploymentView,
  row: RolloutRow,
  now: number,
): Promise<Outcome> {
  const canary = d.revisions.get(row.revision);
  const base = d.revisions.get(row.baseRevision);
  if (!canary || !base) return 'unchanged';
  const name = `canary v${canary.version} (revision ${row.revision})`;
  const replicas = view.workloads.filter((w) => w.deploymentId === d.id && w.revision === row.revision);
  // What the agent just reported counts, as below: this tick's plan turns a failure into a retry at once.
  const broken = replicas.find(
    (w) => (w.report?.phase ?? w.phase) === 'failed' && w.attempt >= FAILED_ATTEMPTS,
  );
  if (broken) {
    const reason = broken.report?.reason ?? broken.reason ?? 'no reason given';
    const why = `its replica failed to load ${broken.attempt} times (${reason})`;
    await rollBack(db, d, row, `${name} rolled back: ${why}`, now, row.figures ?? null);
    return 'rolled_back';
  }
  // The phase its agent reported counts at once: this tick's plan and routing take the replica as ready too.
  const serving = replicas.some(
    (w) =>
      (w.report?.phase ?? w.phase) === 'ready' &&
      w.retireAt === null &&
      w.agentId !== null &&
      view.agents.get(w.agentId)?.status !== 'lost',
  );
  const share = row.policy.steps[row.step] ?? 1;
  if (row.stepStartedAt === null) {
    if (!serving) return 'unchanged';
    await startStep(
      db,
      d,
      row,
      row.step,
      now,
      `${name} takes ${percent(share)} of calls against v${base.version} (revision ${row.baseRevision}): ${describeCanary(row.policy)}`,
    );
    return 'written';
  }
  const since = sinceOf(row.stepStartedAt.getTime());
  const [canaryNow, baseNow] = await Promise.all([
    readTotals(db, d.id, canary.versionId, since),
    readTotals(db, d.id, base.versionId, since),
  ]);
  const baseline = row.stepBaseline;
  if (!baseline) return 'unchanged';
  const verdict = judgeStep(
    row.policy,
    { canary: windowOf(canaryNow, baseline.canary), base: windowOf(baseNow, baseline.base) },
    now - row.stepStartedAt.getTime(),
    now,
  );
  if (verdict.kind === 'fail') {
    const message = `${name} rolled back: ${verdict.summary}; every call goes to v${base.version} (revision ${row.baseRevision}) again`;
    await rollBack(db, d, row, message, now, verdict.figures);
    return 'rolled_back';
  }
  if (verdict.kind === 'wait') {
    const before = row.figures;
    const same =
      before?.canary.calls === verdict.figures.canary.calls &&
      before?.base.calls === verdict.figures.base.calls;
    if (same) return 'unchanged';
    await db
      .update(deploymentRollouts)
      .set({ figures: verdict.figures })
      .where(and(eq(deploymentRollouts.deploymentId, d.id), eq(deploymentRollouts.revision, row.revision)));
    return 'unchanged';
  }
  const next = row.step + 1;
  if (next < row.policy.steps.length) {
    const nextShare = row.policy.steps[next] ?? 1;
    await startStep(
      db,
      d,
      row,
      next,
      now,
      `${name} passed ${percent(share)}: ${verdict.summary}; now takes ${percent(nextShare)}`,
      {
        canary: canaryNow,
        base: baseNow,
      },
    );
    return 'written';
  }
  await promote(
    db,
    d,
    row,
    `${name} promoted after ${row.policy.steps.length} step(s): ${verdict.summary}; it now takes every call and replaces revision ${row.baseRevision}`,
    now,
    verdict.figures,
  );
  return 'written';
}

const keyOf = (row: RolloutRow) =>
  and(
    eq(deploymentRollouts.deploymentId, row.deploymentId),
    eq(deploymentRollouts.revision, row.revision),
    eq(deploymentRollouts.state, 'canary'),
  );

async function event(
  tx: Pick<Database, 'insert'>,
  d: DeploymentView,
  type: string,
  message: string,
  now: number,
) {
  await tx.insert(deploymentEvents).values({
    id: newId('deploymentEvent', now),
    deploymentId: d.id,
    orgId: d.orgId,
    type,
    message,
    at: new Date(now),
  });
}

/** Step `step` begins now, counted from the totals as they stand (read here unless given). */
async function startStep(
  db: Database,
  d: DeploymentView,
  row: RolloutRow,
  step: number,
  now: number,
  message: string,
  totals?: RolloutRow['stepBaseline'],
) {
  const since = sinceOf(now);
  const canary = d.revisions.get(row.revision);
  const base = d.revisions.get(row.baseRevision);
  if (!canary || !base) return;
  // A baseline read with this step's own `since`: the previous step's totals may count older minutes.
  const baseline =
    totals && sinceOf(row.stepStartedAt?.getTime() ?? now) === since
      ? totals
      : {
          canary: await readTotals(db, d.id, canary.versionId, since),
          base: await readTotals(db, d.id, base.versionId, since),
        };
  await db.transaction(async (tx) => {
    const moved = await tx
      .update(deploymentRollouts)
      .set({ step, stepStartedAt: new Date(now), stepBaseline: baseline, figures: null })
      .where(keyOf(row));
    if (moved.rowsAffected > 0)
      await event(tx, d, step === 0 ? 'canary_started' : 'canary_step', message, now);
  });
}

async function rollBack(
  db: Database,
  d: DeploymentView,
  row: RolloutRow,
  message: string,
  now: number,
  figures: RolloutRow['figures'],
) {
  await db.transaction(async (tx) => {
    const moved = await tx
      .update(deploymentRollouts)
      .set({ state: 'rolled_back', reason: message, figures, finishedAt: new Date(now) })
      .where(keyOf(row));
    if (moved.rowsAffected > 0) await event(tx, d, 'canary_rolled_back', message, now);
  });
}

async function promote(
  db: Database,
  d: DeploymentView,
  row: RolloutRow,
  message: string,
  now: number,
  figures: RolloutRow['figures'],
) {
  await db.transaction(async (tx) => {
    const moved = await tx
      .update(deploymentRollouts)
      .set({
        state: 'promoted',
        step: row.policy.steps.length,
        reason: message,
        figures,
        finishedAt: new Date(now),
      })
      .where(keyOf(row));
    if (moved.rowsAffected === 0) return;
    // The canary's revision becomes the one every replica serves: the rolling update finishes the move.
    await tx
      .update(deployments)
      .set({ revision: row.revision, updatedAt: new Date(now) })
      .where(and(eq(deployments.id, d.id), eq(deployments.revision, row.baseRevision)));
    await event(tx, d, 'canary_promoted', message, now);
  });
}
