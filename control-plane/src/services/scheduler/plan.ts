import { type GpuType, newId } from '@meridian/protocol';
import type { ClusterView, DeploymentView, NotebookView, WorkloadView } from './cluster-view.js';
import { type HostSnapshot, placeWorkloads } from './placement.js';
import {
  deploymentStatusOf,
  type NewWorkload,
  needsOf,
  newModelWorkload,
  newNotebookWorkload,
  progress,
  toView,
} from './workload-specs.js';

export interface PlanOptions {
  /** An agent silent this long is lost: its work is placed elsewhere. */
  heartbeatTimeoutMs: number;
  /** How long a replaced replica keeps serving after leaving the routing snapshot (edge refresh, in-flight calls). */
  retireAfterMs: number;
  /** Added to a notebook's idle timeout: Jupyter records activity coarsely and the agent reports it every few seconds. */
  idleSlackMs: number;
  /**
   * When this instance became the scheduler. Silence is counted from then at the earliest: after a
   * control-plane outage every agent looks silent, and declaring them all lost would move every replica.
   */
  leaderSince?: number;
}

type WorkloadFields = Partial<
  Pick<WorkloadView, 'agentId' | 'phase' | 'reason' | 'pendingReason' | 'retireAt' | 'readyAt'> & {
    placedAt: number;
  }
>;

/** Every write one tick decided on; applied by ./apply-plan.ts. */
export interface Plan {
  lostAgents: string[];
  createWorkloads: NewWorkload[];
  deleteWorkloads: string[];
  updateWorkloads: Map<string, WorkloadFields>;
  deploymentStatus: { id: string; status: DeploymentView['status']; reason: string | null }[];
  events: { deploymentId: string; orgId: string; type: string; message: string }[];
  notebookUpdates: Map<
    string,
    Partial<Pick<NotebookView, 'status' | 'statusReason' | 'endpoint' | 'lastActivityAt' | 'desired'>>
  >;
  sessionStarts: {
    id: string;
    notebookId: string;
    orgId: string;
    gpuType: GpuType;
    gpuCount: number;
    agentId: string;
    startedAt: number;
  }[];
  sessionEnds: { id: string; endedAt: number; seconds: number; reason: string }[];
  /** Agents whose desired state changed: their version moves on and their long polls wake. */
  notify: Set<string>;
}

export function planTick(view: ClusterView, options: PlanOptions): Plan {
  const plan: Plan = {
    lostAgents: [],
    createWorkloads: [],
    deleteWorkloads: [],
    updateWorkloads: new Map(),
    deploymentStatus: [],
    events: [],
    notebookUpdates: new Map(),
    sessionStarts: [],
    sessionEnds: [],
    notify: new Set(),
  };
  const { now } = view;
  const update = (w: WorkloadView, fields: WorkloadFields) => {
    Object.assign(w, fields);
    plan.updateWorkloads.set(w.id, { ...plan.updateWorkloads.get(w.id), ...fields });
  };
  let live = [...view.workloads];
  const remove = (w: WorkloadView) => {
    plan.deleteWorkloads.push(w.id);
    plan.updateWorkloads.delete(w.id);
    if (w.agentId) plan.notify.add(w.agentId);
    live = live.filter((x) => x.id !== w.id);
  };
  const deploymentOf = new Map(view.deployments.map((d) => [d.id, d]));
  const event = (d: { id: string; orgId: string }, type: string, message: string) =>
    plan.events.push({ deploymentId: d.id, orgId: d.orgId, type, message });

  // 1. Agents silent past the timeout are lost; what they ran is gone with them and is placed again below.
  for (const agent of view.agents.values()) {
    const silentSince = Math.max(agent.lastHeartbeatAt, options.leaderSince ?? 0);
    if (agent.status === 'lost' || now - silentSince <= options.heartbeatTimeoutMs) continue;
    agent.status = 'lost';
    plan.lostAgents.push(agent.id);
    plan.notify.add(agent.id);
    for (const w of live.filter((x) => x.agentId === agent.id)) {
      const d = w.deploymentId ? deploymentOf.get(w.deploymentId) : undefined;
      if (d)
        event(
          d,
          'replica_lost',
          `replica ${w.id} was lost with agent ${agent.id} (no heartbeat for ${Math.round((now - agent.lastHeartbeatAt) / 1000)} s); placing it again`,
        );
      remove(w);
    }
  }

  // 2. What agents reported becomes each workload's phase.
  for (const w of live) {
    if (!w.agentId || !w.report) continue;
    const { phase, reason } = w.report;
    if (phase !== w.phase || reason !== w.reason) {
      update(w, { phase, reason, ...(phase === 'ready' && w.readyAt === null ? { readyAt: now } : {}) });
      const d = w.deploymentId ? deploymentOf.get(w.deploymentId) : undefined;
      if (d && (phase === 'ready' || phase === 'failed'))
        event(
          d,
          `replica_${phase}`,
          `replica ${w.id} (revision ${w.revision}) on agent ${w.agentId} is ${phase}${reason ? `: ${reason}` : ''}`,
        );
    }
  }

  // 3. Retired replicas whose grace is over leave their agents.
  for (const w of live.filter((x) => x.retireAt !== null && x.retireAt <= now)) remove(w);

  // 4. Deployments: min replicas of the current revision; older ones retire once it is fully ready.
  const hostUsable = (agentId: string | null) =>
    agentId === null || view.agents.get(agentId)?.status === 'online';
  for (const d of view.deployments) {
    const mine = live.filter((w) => w.deploymentId === d.id && w.retireAt === null);
    const current = mine.filter((w) => w.revision === d.revision && hostUsable(w.agentId));
    const size = d.revisions.get(d.revision)?.sizeBytes ?? 0;
    for (let i = current.length; i < d.minReplicas; i++) {
      const w = newModelWorkload(d, size);
      plan.createWorkloads.push(w);
      const view_ = toView(w);
      live.push(view_);
      current.push(view_);
    }
    // Fewer replicas wanted: drop the least advanced ones first.
    const surplus = current.length - d.minReplicas;
    if (surplus > 0) {
      const byProgress = [...current].sort((a, b) => progress(a) - progress(b) || (a.id < b.id ? 1 : -1));
      for (const w of byProgress.slice(0, surplus)) retire(w, 'replicas reduced');
    }
    const ready = current.filter((w) => w.phase === 'ready' && w.agentId !== null);
    if (ready.length >= d.minReplicas) {
      const stale = mine.filter((w) => !current.includes(w) && w.retireAt === null);
      for (const w of stale)
        retire(
          w,
          w.revision === d.revision
            ? `its agent ${w.agentId} is draining`
            : `revision ${d.revision} is ready`,
        );
    }
  }
  function retire(w: WorkloadView, why: string) {
    if (w.agentId === null || w.phase !== 'ready') return remove(w);
    update(w, { retireAt: now + options.retireAfterMs });
    const d = w.deploymentId ? deploymentOf.get(w.deploymentId) : undefined;
    if (d)
      event(
        d,
        'replica_retiring',
        `replica ${w.id} (revision ${w.revision}) leaves routing and stops in ${Math.round(options.retireAfterMs / 1000)} s: ${why}`,
      );
  }

  // 5. Notebooks: one workload while wanted, none while stopped; culled after their idle timeout.
  for (const nb of view.notebooks) planNotebook(nb);
  function planNotebook(nb: NotebookView) {
    const w = live.find((x) => x.notebookId === nb.id);
    const set = (fields: Parameters<typeof plan.notebookUpdates.set>[1]) =>
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
      if (w) remove(w);
      endSession('stopped');
      if (nb.status !== 'stopped') set({ status: 'stopped', statusReason: stopReason, endpoint: null });
      return;
    }
    if (!w) {
      if (nb.openSession) endSession('host lost');
      const created = newNotebookWorkload(nb);
      plan.createWorkloads.push(created);
      live.push(toView(created));
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
      if (nb.status !== 'failed' || nb.statusReason !== w.reason)
        set({ status: 'failed', statusReason: w.reason });
    } else if (nb.status !== 'starting' && w.agentId) set({ status: 'starting', statusReason: null });
  }

  // 6. Place what has no host yet.
  const pending = live.filter((w) => w.agentId === null && w.retireAt === null);
  if (pending.length > 0) {
    const hosts: HostSnapshot[] = [...view.agents.values()].map((a) => ({
      agentId: a.id,
      status: a.status,
      runtimes: a.runtimes,
      inventory: a.inventory,
      assigned: live.filter((w) => w.agentId === a.id).map((w) => needsOf(w, deploymentOf)),
    }));
    const result = placeWorkloads(
      hosts,
      pending.map((w) => needsOf(w, deploymentOf)),
    );
    for (const { workloadId, agentId } of result.placed) {
      const w = live.find((x) => x.id === workloadId);
      if (!w) continue;
      update(w, { agentId, placedAt: now, pendingReason: null });
      plan.notify.add(agentId);
      const d = w.deploymentId ? deploymentOf.get(w.deploymentId) : undefined;
      if (d)
        event(d, 'replica_scheduled', `replica ${w.id} (revision ${w.revision}) placed on agent ${agentId}`);
      if (w.notebookId)
        plan.notebookUpdates.set(w.notebookId, {
          ...plan.notebookUpdates.get(w.notebookId),
          status: 'starting',
          statusReason: null,
        });
    }
    for (const { workloadId, reason } of result.unschedulable) {
      const w = live.find((x) => x.id === workloadId);
      if (w && w.pendingReason !== reason) update(w, { pendingReason: reason });
      if (w?.notebookId)
        plan.notebookUpdates.set(w.notebookId, {
          ...plan.notebookUpdates.get(w.notebookId),
          status: 'pending',
          statusReason: reason,
        });
    }
  }

  // 7. Each deployment's status follows its current revision's replicas.
  for (const d of view.deployments) {
    const current = live.filter(
      (w) => w.deploymentId === d.id && w.revision === d.revision && w.retireAt === null,
    );
    const { status, reason } = deploymentStatusOf(d, current);
    if (status !== d.status || reason !== d.statusReason) {
      plan.deploymentStatus.push({ id: d.id, status, reason });
      event(d, 'status', `${d.status} → ${status}${reason ? `: ${reason}` : ''}`);
    }
  }
  return plan;
}
