import type { DeploymentView, WorkloadView } from './cluster-view.js';
import type { PlanContext } from './plan-context.js';
import { startProblemOf } from './start-failure.js';
import { deploymentStatusOf, newModelWorkload, progress, retryBackoffMs, toView } from './workload-specs.js';

// Phase 4 of a tick: each deployment's replicas follow its target (the autoscaler's decision), failed ones are
// replaced after a backoff on another host if one fits, and older revisions retire once the current one is
// ready. Phase 7: each deployment's status.

/** Each deployment's workloads among `live`, grouped once: a tick has thousands of both. */
function byDeployment(live: WorkloadView[]): Map<string, WorkloadView[]> {
  const groups = new Map<string, WorkloadView[]>();
  for (const w of live) {
    if (!w.deploymentId) continue;
    const list = groups.get(w.deploymentId) ?? [];
    list.push(w);
    groups.set(w.deploymentId, list);
  }
  return groups;
}

export function planDeployments(ctx: PlanContext): void {
  const groups = byDeployment(ctx.live);
  for (const d of ctx.view.deployments) planDeployment(ctx, d, groups.get(d.id) ?? []);
}

/** The replicas wanted now: the autoscaler's decision (written back with an event), else the stored target. */
function targetOf(ctx: PlanContext, d: DeploymentView): number {
  const decision = ctx.inputs.scale?.get(d.id);
  const target = decision?.replicas ?? Math.min(d.maxReplicas, Math.max(d.minReplicas, d.desiredReplicas));
  if (target !== d.desiredReplicas) {
    ctx.plan.scaleTargets.push({ id: d.id, from: d.desiredReplicas, to: target });
    if (decision?.message) ctx.event(d, 'autoscaled', decision.message);
  }
  return target;
}

function planDeployment(ctx: PlanContext, d: DeploymentView, workloads: WorkloadView[]): void {
  const target = targetOf(ctx, d);
  d.desiredReplicas = target;
  const mine = workloads.filter((w) => w.retireAt === null);
  const retiring = workloads.filter((w) => w.retireAt !== null);
  // While a canary runs, its revision keeps a share of the replicas beside the current revision's.
  const canary = ctx.inputs.canaries?.get(d.id);
  const groups = [{ revision: d.revision, target }];
  if (canary) groups.push({ revision: canary.revision, target: canaryReplicas(target, canary.share) });
  const kept: WorkloadView[] = [];
  let allReady = true;
  for (const g of groups) {
    const { current, ready } = planRevision(ctx, d, { mine, retiring }, g.revision, g.target);
    kept.push(...current);
    if (ready < g.target) allReady = false;
  }
  if (allReady) {
    const stale = mine.filter((w) => !kept.includes(w) && w.retireAt === null);
    for (const w of stale)
      retire(
        ctx,
        w,
        w.revision === d.revision || w.revision === canary?.revision
          ? `its agent ${w.agentId} is draining`
          : `revision ${d.revision} is ready`,
      );
  }
}

/** Replicas a canary at `share` runs beside `target` current ones: its share of them, at least one. */
export const canaryReplicas = (target: number, share: number) =>
  target === 0 ? 0 : Math.max(1, Math.ceil(target * share));

/**
 * One revision's replicas follow `target`: failed ones replaced, retiring ones taken back before any new one
 * starts, the surplus retired.
 */
function planRevision(
  ctx: PlanContext,
  d: DeploymentView,
  { mine, retiring }: { mine: WorkloadView[]; retiring: WorkloadView[] },
  revision: number,
  target: number,
): { current: WorkloadView[]; ready: number } {
  const hostUsable = (agentId: string | null) =>
    agentId === null || ctx.view.agents.get(agentId)?.status === 'online';
  const of = revision === d.revision ? d : { ...d, revision };
  const current = mine.filter((w) => w.revision === revision && hostUsable(w.agentId));
  const size = d.revisions.get(revision)?.sizeBytes ?? 0;
  // Retiring replicas of this revision that still hold their model loaded: each is taken back, once, before
  // anything of this revision starts from cold.
  const warm = retiring.filter(
    (w) => w.revision === revision && w.phase === 'ready' && hostUsable(w.agentId),
  );
  const failed = current.filter((w) => w.phase === 'failed' && w.agentId !== null);
  const healthy = current.length - failed.length;
  for (const [i, f] of failed.entries()) {
    // Only a failed replica within the target is worth a warm one: past it, its successor is surplus.
    const taken = healthy + i < target ? warm.shift() : undefined;
    const successor = taken ? takeBackFor(ctx, d, f, taken) : replaceFailed(ctx, of, f, size);
    if (successor) current.splice(current.indexOf(f), 1, successor);
  }
  for (const w of warm.slice(0, Math.max(0, target - current.length))) {
    reclaim(ctx, d, w, 'wanted again, it takes calls with its model still loaded');
    current.push(w);
  }
  for (let i = current.length; i < target; i++) {
    const created = newModelWorkload(of, size);
    ctx.plan.createWorkloads.push(created);
    const view = toView(created);
    ctx.live.push(view);
    current.push(view);
  }
  // Fewer replicas wanted: drop the least advanced ones first.
  const surplus = current.length - target;
  if (surplus > 0) {
    const byProgress = [...current].sort((a, b) => progress(a) - progress(b) || (a.id < b.id ? 1 : -1));
    for (const w of byProgress.slice(0, surplus))
      retire(ctx, w, target === 0 ? 'scaled to zero' : 'replicas reduced');
  }
  return { current, ready: current.filter((w) => w.phase === 'ready' && w.agentId !== null).length };
}

/** A failed replica's successor once its backoff is over: the next attempt, avoiding the hosts that failed. */
function replaceFailed(
  ctx: PlanContext,
  d: DeploymentView,
  failed: WorkloadView,
  size: number,
): WorkloadView | undefined {
  const failedAt = failed.failedAt ?? ctx.now;
  if (ctx.now < failedAt + retryBackoffMs(failed.attempt)) return undefined;
  const avoid = [...new Set([...failed.avoidAgents, failed.agentId ?? ''])].filter(Boolean);
  const created = { ...newModelWorkload(d, size), attempt: failed.attempt + 1, avoidAgents: avoid };
  ctx.plan.createWorkloads.push(created);
  ctx.event(
    failed,
    'replica_retry',
    `replica ${failed.id} failed on agent ${failed.agentId}${failed.reason ? `: ${failed.reason}` : ''}; ` +
      `attempt ${created.attempt} as ${created.id}, on another host if one fits`,
  );
  ctx.remove(failed);
  const view = toView(created);
  ctx.live.push(view);
  return view;
}

function retire(ctx: PlanContext, w: WorkloadView, why: string): void {
  if (w.agentId === null || w.phase !== 'ready') {
    ctx.remove(w);
    return;
  }
  const { retireAfterMs } = ctx.options;
  ctx.update(w, { retireAt: ctx.now + retireAfterMs });
  ctx.event(
    w,
    'replica_retiring',
    `replica ${w.id} (revision ${w.revision}) leaves routing and stops in ${Math.round(retireAfterMs / 1000)} s: ${why}`,
  );
}

/**
 * A retiring replica still holds its model loaded until its retire delay is over: a scale-up in that window
 * (a call's wake, `--min 1`) or a failed replica of its revision routes to it again rather than loading the
 * same revision elsewhere from cold. Safe until the delay is over: its agent stops it only once its row is
 * gone (`removeRetired`, which runs before this phase), and the agent's spec carries no retirement.
 */
function reclaim(ctx: PlanContext, d: DeploymentView, w: WorkloadView, why: string): void {
  ctx.update(w, { retireAt: null });
  ctx.event(w, 'replica_reclaimed', `replica ${w.id} of ${named(d, w.revision)} no longer retires: ${why}`);
}

/** A failed replica's place taken at once by retiring `w` of its revision: no backoff, no cold start. */
function takeBackFor(
  ctx: PlanContext,
  d: DeploymentView,
  failed: WorkloadView,
  w: WorkloadView,
): WorkloadView {
  const reason = failed.reason ? `: ${failed.reason}` : '';
  reclaim(
    ctx,
    d,
    w,
    `it takes calls with its model still loaded in place of replica ${failed.id}, ` +
      `which failed on agent ${failed.agentId}${reason}`,
  );
  ctx.remove(failed);
  return w;
}

/** A deployment and the version number one of its revisions serves, as its user names them: `ocr v3`. */
function named(d: DeploymentView, revision: number | null): string {
  const version = revision === null ? undefined : d.revisions.get(revision)?.version;
  return version === undefined ? d.name : `${d.name} v${version}`;
}

/** Each deployment's status follows its current revision's replicas. */
export function planStatuses(ctx: PlanContext): void {
  const groups = byDeployment(ctx.live);
  for (const d of ctx.view.deployments) {
    const revision = (groups.get(d.id) ?? []).filter((w) => w.revision === d.revision);
    const current = revision.filter((w) => w.retireAt === null);
    const retryInMs = (w: WorkloadView) =>
      Math.max(0, (w.failedAt ?? ctx.now) + retryBackoffMs(w.attempt) - ctx.now);
    const retiring = revision.some((w) => w.retireAt !== null);
    const retiringWithinMs = retiring ? ctx.options.retireAfterMs : undefined;
    const { status, reason } = deploymentStatusOf(d, current, retryInMs, retiringWithinMs);
    const startProblem = startProblemOf(d, current, d.startProblem);
    const problemMoved = JSON.stringify(startProblem) !== JSON.stringify(d.startProblem);
    if (status !== d.status || reason !== d.statusReason || problemMoved) {
      ctx.plan.deploymentStatus.push({ id: d.id, status, reason, startProblem, revision: d.revision });
      ctx.event(d, 'status', `${d.status} → ${status}${reason ? `: ${reason}` : ''}`);
    }
  }
}
