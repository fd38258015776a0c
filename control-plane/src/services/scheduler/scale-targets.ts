import {
  DEFAULT_WINDOWS,
  decideScale,
  newScaleMemory,
  type ScaleDecision,
  type ScaleMemory,
  type ScaleWindows,
} from './autoscaler.js';
import type { ClusterView } from './cluster-view.js';
import type { LoadSignals } from './load-signals.js';

/**
 * The autoscaler of the scheduling instance: per deployment, its memory between ticks and a decision per
 * tick from the load its replicas' agents and the edge reported. Replicas on lost agents report nothing and
 * count for nothing.
 */
export class Autoscaler {
  private readonly memories = new Map<string, ScaleMemory>();

  constructor(
    private readonly signals: LoadSignals,
    private readonly windows: ScaleWindows = DEFAULT_WINDOWS,
  ) {}

  /** One decision per deployment of the view. */
  decide(view: ClusterView): Map<string, ScaleDecision> {
    const { now } = view;
    const load = new Map<
      string,
      { inFlight: number; queued: number; ready: number; lastCallAt: number | null }
    >();
    for (const w of view.workloads) {
      if (!w.deploymentId || !w.agentId || view.agents.get(w.agentId)?.status === 'lost') continue;
      const entry = load.get(w.deploymentId) ?? { inFlight: 0, queued: 0, ready: 0, lastCallAt: null };
      const r = this.signals.replica(w.agentId, w.id);
      if (r) {
        entry.inFlight += r.inFlight;
        entry.queued += r.queued;
        entry.lastCallAt = latest(entry.lastCallAt, r.lastBusyAt);
      }
      // What the agent reports now: the plan records it as the phase later in this same tick.
      if ((w.report?.phase ?? w.phase) === 'ready' && w.retireAt === null) entry.ready += 1;
      load.set(w.deploymentId, entry);
    }
    const decisions = new Map<string, ScaleDecision>();
    for (const d of view.deployments) {
      const memory = this.memories.get(d.id) ?? newScaleMemory(now);
      this.memories.set(d.id, memory);
      const l = load.get(d.id) ?? { inFlight: 0, queued: 0, ready: 0, lastCallAt: null };
      const current = Math.min(d.maxReplicas, Math.max(d.minReplicas, d.desiredReplicas));
      const observation = {
        now,
        current,
        ready: l.ready,
        inFlight: l.inFlight,
        queued: l.queued,
        held: this.signals.heldFor(d.id),
        lastCallAt: latest(l.lastCallAt, this.signals.heldAt(d.id)),
      };
      const decision = decideScale(d, observation, memory, this.windows);
      decisions.set(d.id, decision);
    }
    const alive = new Set(view.deployments.map((d) => d.id));
    for (const id of this.memories.keys()) if (!alive.has(id)) this.memories.delete(id);
    this.signals.retain(new Set(view.workloads.map((w) => w.id)), alive);
    return decisions;
  }
}

const latest = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));
