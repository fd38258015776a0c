import type { AgentLoadReport } from '@meridian/protocol';

// What the autoscaler hears between ticks, in this process's memory: each replica's latest load from its
// agent, and the calls the edge holds for deployments with no ready replica. Nothing here is durable: after
// a restart the autoscaler starts from the replicas the database wants and counts idleness from then.
// Agents send their reports to whichever instance answers; only the scheduling instance's reports count
// (with one control-plane instance, the default, that is all of them).

/** A value older than this is taken as zero: a busy agent reports about every second, so it went quiet. */
export const LOAD_STALE_MS = 10_000;
/** A held count the edge reported without waiting counts this long. */
const HELD_TTL_MS = 3_000;
/** At most this many replicas remembered per agent (a report carries at most 4,096). */
const MAX_REPLICAS_PER_AGENT = 4_096;

export interface ReplicaLoadNow {
  inFlight: number;
  queued: number;
  /** When the control plane received it. */
  at: number;
  /** The last time this replica reported any call in flight or queued. */
  lastBusyAt: number | null;
  /** The first time it reported a call, ever: its first inference. */
  firstBusyAt: number | null;
}

interface Held {
  held: number;
  at: number;
  /** Set while a wake request waits for readiness: its count stands until it answers. */
  waiting: boolean;
}

export class LoadSignals {
  private readonly byAgent = new Map<string, Map<string, ReplicaLoadNow>>();
  private readonly held = new Map<string, Map<symbol, Held>>();
  private readonly lastHeldAt = new Map<string, number>();

  constructor(private readonly clock: () => number = Date.now) {}

  /** Records an agent's report. Keyed by agent: a replica's load is read only from the agent it is placed on. */
  recordAgentLoad(agentId: string, report: AgentLoadReport): void {
    const now = this.clock();
    const replicas = this.byAgent.get(agentId) ?? new Map<string, ReplicaLoadNow>();
    for (const r of report.replicas) {
      const before = replicas.get(r.workloadId);
      const busy = r.inFlight + r.queued > 0;
      replicas.delete(r.workloadId);
      replicas.set(r.workloadId, {
        inFlight: r.inFlight,
        queued: r.queued,
        at: now,
        lastBusyAt: busy ? now : (before?.lastBusyAt ?? null),
        firstBusyAt: before?.firstBusyAt ?? (busy ? now : null),
      });
    }
    // Oldest first (Map order is insertion order, refreshed above): drop beyond the bound.
    for (const id of replicas.keys()) {
      if (replicas.size <= MAX_REPLICAS_PER_AGENT) break;
      replicas.delete(id);
    }
    this.byAgent.set(agentId, replicas);
  }

  /** The replica's load as its agent last reported it, zeroed once stale; undefined if never reported. */
  replica(agentId: string, workloadId: string): ReplicaLoadNow | undefined {
    const r = this.byAgent.get(agentId)?.get(workloadId);
    if (!r) return undefined;
    return this.clock() - r.at > LOAD_STALE_MS ? { ...r, inFlight: 0, queued: 0 } : r;
  }

  /**
   * Records that an edge isolate holds `held` calls for the deployment. With `waiting`, the count stands until
   * the returned release is called (the wake request answers); otherwise for a few seconds.
   */
  recordHeld(deploymentId: string, held: number, waiting: boolean): () => void {
    const now = this.clock();
    const key = Symbol(deploymentId);
    const entries = this.held.get(deploymentId) ?? new Map<symbol, Held>();
    entries.set(key, { held, at: now, waiting });
    this.held.set(deploymentId, entries);
    if (held > 0) this.lastHeldAt.set(deploymentId, now);
    return () => {
      const entry = entries.get(key);
      if (entry) entries.set(key, { ...entry, waiting: false, at: this.clock() });
    };
  }

  /** Calls the edge holds for the deployment now, summed over the isolates that said so. */
  heldFor(deploymentId: string): number {
    const entries = this.held.get(deploymentId);
    if (!entries) return 0;
    const now = this.clock();
    let total = 0;
    for (const [key, h] of entries) {
      if (h.waiting || now - h.at <= HELD_TTL_MS) total += h.held;
      else entries.delete(key);
    }
    if (entries.size === 0) this.held.delete(deploymentId);
    return total;
  }

  /** The last time the edge held a call for the deployment. */
  heldAt(deploymentId: string): number | null {
    return this.lastHeldAt.get(deploymentId) ?? null;
  }

  /** Forgets replicas and deployments no longer in the cluster, so memory follows the cluster's size. */
  retain(workloads: ReadonlySet<string>, deployments: ReadonlySet<string>): void {
    for (const [agentId, replicas] of this.byAgent) {
      for (const id of replicas.keys()) if (!workloads.has(id)) replicas.delete(id);
      if (replicas.size === 0) this.byAgent.delete(agentId);
    }
    for (const id of this.lastHeldAt.keys()) if (!deployments.has(id)) this.lastHeldAt.delete(id);
  }
}
