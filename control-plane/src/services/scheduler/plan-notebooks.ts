import { newId } from '@meridian/protocol';
import type { NotebookView } from './cluster-view.js';
import type { Plan, PlanContext } from './plan-context.js';
import { newNotebookWorkload, toView } from './workload-specs.js';

// Phase 5 of a tick: notebooks have one workload while wanted, none while stopped; culled after their idle
// timeout, with a billing session from ready to stop.

export function planNotebooks(ctx: PlanContext): void {
  for (const nb of ctx.view.notebooks) planNotebook(ctx, nb);
}

function planNotebook(ctx: PlanContext, nb: NotebookView): void {
  const { plan, now, options } = ctx;
  const w = ctx.live.find((x) => x.notebookId === nb.id);
  const set = (fields: Parameters<Plan['notebookUpdates']['set']>[1]) =>
    plan.notebookUpdates.set(nb.id, { ...plan.notebookUpdates.get(nb.id), ...fields });
  const endSession = (reason: string) => {
    if (!nb.openSession) return;
    plan.sessionEnds.push({
      id: nb.openSession.id,
      endedAt: now,
      seconds: Math.max(0, Math.round((now - nb.openSession.startedAt) / 1000)),
      reason,
    });
    nb.openSession = null;
  };
  let desired = nb.desired;
  let stopReason: string | null = null;
  if (desired === 'running' && w?.phase === 'ready' && nb.openSession) {
    const last = Math.max(w.report?.lastActivityAt ?? 0, nb.openSession.startedAt);
    if (now - last > nb.idleTimeoutSeconds * 1000 + options.idleSlackMs) {
      desired = 'stopped';
      set({ desired: 'stopped' });
      const since = new Date(last).toISOString();
      endSession(`culled: idle since ${since}`);
      // What its owner reads on GET: why it stopped without being asked to.
      stopReason = `culled: idle since ${since}, past its idle timeout of ${nb.idleTimeoutSeconds} s; start it again to continue`;
    }
  }
  if (desired === 'stopped') {
    if (w) ctx.remove(w);
    endSession('stopped');
    if (nb.status !== 'stopped') set({ status: 'stopped', statusReason: stopReason, endpoint: null });
    return;
  }
  if (!w) {
    if (nb.openSession) endSession('host lost');
    const created = newNotebookWorkload(nb);
    plan.createWorkloads.push(created);
    ctx.live.push(toView(created));
    if (nb.status !== 'pending') set({ status: 'pending', statusReason: null, endpoint: null });
    return;
  }
  if (w.phase === 'ready' && w.agentId) {
    if (!nb.openSession)
      plan.sessionStarts.push({
        id: newId('notebookSession', now),
        notebookId: nb.id,
        orgId: nb.orgId,
        gpuType: w.gpuType,
        gpuCount: w.gpuCount,
        agentId: w.agentId,
        startedAt: now,
      });
    const endpoint = w.report?.endpoint ?? null;
    const activity = w.report?.lastActivityAt ?? null;
    if (nb.status !== 'running' || nb.endpoint !== endpoint || nb.lastActivityAt !== activity)
      set({ status: 'running', statusReason: null, endpoint, lastActivityAt: activity });
  } else if (w.phase === 'failed') {
    // A server that exits after it was ready: nothing serves from then on, so nothing is billed either.
    endSession(`failed: ${w.reason ?? 'no reason given'}`);
    if (nb.status !== 'failed' || nb.statusReason !== w.reason)
      set({ status: 'failed', statusReason: w.reason });
  } else if (nb.status !== 'starting' && w.agentId) set({ status: 'starting', statusReason: null });
}
