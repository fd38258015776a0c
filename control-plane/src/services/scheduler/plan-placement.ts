import { type HostSnapshot, placeWorkloads } from './placement.js';
import type { PlanContext } from './plan-context.js';
import { needsOf } from './workload-specs.js';

/** Phase 6 of a tick: what has no host yet is placed, or says why it cannot be. */
export function placePending(ctx: PlanContext): void {
  const { view, plan, now, deploymentOf } = ctx;
  const pending = ctx.live.filter((w) => w.agentId === null && w.retireAt === null);
  if (pending.length === 0) return;
  const byAgent = new Map<string, ReturnType<typeof needsOf>[]>();
  for (const w of ctx.live) {
    if (w.agentId === null) continue;
    const list = byAgent.get(w.agentId) ?? [];
    list.push(needsOf(w, deploymentOf));
    byAgent.set(w.agentId, list);
  }
  const hosts: HostSnapshot[] = [...view.agents.values()].map((a) => ({
    agentId: a.id,
    status: a.status,
    runtimes: a.runtimes,
    inventory: a.inventory,
    assigned: byAgent.get(a.id) ?? [],
  }));
  const result = placeWorkloads(
    hosts,
    pending.map((w) => needsOf(w, deploymentOf)),
  );
  const byId = new Map(pending.map((w) => [w.id, w]));
  const notebookStatus = (notebookId: string, status: 'starting' | 'pending', reason: string | null) =>
    plan.notebookUpdates.set(notebookId, {
      ...plan.notebookUpdates.get(notebookId),
      status,
      statusReason: reason,
    });
  for (const { workloadId, agentId } of result.placed) {
    const w = byId.get(workloadId);
    if (!w) continue;
    ctx.update(w, { agentId, placedAt: now, pendingReason: null });
    plan.notify.add(agentId);
    ctx.event(w, 'replica_scheduled', `replica ${w.id} (revision ${w.revision}) placed on agent ${agentId}`);
    if (w.notebookId) notebookStatus(w.notebookId, 'starting', null);
  }
  for (const { workloadId, reason } of result.unschedulable) {
    const w = byId.get(workloadId);
    if (w && w.pendingReason !== reason) ctx.update(w, { pendingReason: reason });
    if (w?.notebookId) notebookStatus(w.notebookId, 'pending', reason);
  }
}
