import type { RoutedDeployment, RoutingSnapshot, StartFailure } from '@meridian/protocol';
import type { Database } from '../../db/client.js';
import type { Logger } from '../../lib/logger.js';
import { RepeatingTask } from '../../lib/repeating-task.js';
import type { DesiredStateChanges } from '../agents/desired-state-changes.js';
import { advanceRollouts } from '../rollouts/advance.js';
import { applyPlan } from './apply-plan.js';
import type { ScaleWindows } from './autoscaler.js';
import { ClusterCache, type ClusterCacheOptions } from './cluster-cache.js';
import type { ClusterView } from './cluster-view.js';
import { DatabaseLease } from './lease.js';
import { LoadSignals } from './load-signals.js';
import { type PlanOptions, planTick } from './plan.js';
import type { RoutingPublisher } from './routing-publisher.js';
import { RoutingSnapshots, routedDeployments } from './routing-snapshot.js';
import { Autoscaler } from './scale-targets.js';
import type { SchedulerTrigger } from './trigger.js';

export interface SchedulerOptions extends Partial<PlanOptions> {
  db: Database;
  logger: Logger;
  changes: DesiredStateChanges;
  /** This instance's name in the lease. */
  instanceId: string;
  /** How often it converges without being kicked. Default 2 s. */
  intervalMs?: number;
  /** How long the lease lasts without renewal: another instance takes over this long after the holder dies. */
  leaseTtlMs?: number;
  /** Where new routing snapshots go besides the database (Workers KV in production). */
  publisher?: RoutingPublisher;
  /** Load the agents and the edge report, shared with the routes that receive it; none: no autoscaling on load. */
  signals?: LoadSignals;
  /** The autoscaler's windows; default 60 s stable, 6 s panic. */
  scaleWindows?: ScaleWindows;
  /** How the in-memory cluster view is refreshed (full reads, trimming its change log). */
  clusterCache?: ClusterCacheOptions;
  /** How long removed replicas are remembered for their lines; default 1 h. */
  endedReplicaLogsMs?: number;
}

export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 45_000;

/**
 * Converges the cluster: agents lost, replicas placed and replaced, rollouts, notebooks and their idle
 * culling, deployment statuses and the routing snapshot. Only the holder of the `scheduler` lease acts, so
 * any number of control-plane instances may run one. A tick reads what changed since the last one into its
 * in-memory view (./cluster-cache.ts), plans, writes the plan in one transaction, then publishes the routing
 * snapshot if it changed.
 */
export class Scheduler implements SchedulerTrigger {
  readonly routing: RoutingSnapshots;
  private readonly lease: DatabaseLease;
  private readonly plan: PlanOptions;
  private readonly loop: RepeatingTask;
  private readonly signals: LoadSignals;
  private readonly autoscaler: Autoscaler;
  private readonly cluster: ClusterCache;
  /** The last version the publisher accepted; a failed publish is retried on the next tick. */
  private published = -1;
  /** The cluster view's routing generation the stored snapshot was last computed from. */
  private routedGeneration = -1;
  /** The canaries' shares it was computed with. */
  private routedCanaries = '';
  /** The start failures the stored snapshot carries, kept while a replica retries (read from it at first). */
  private startFailures: Map<string, StartFailure> | undefined;
  /** When this instance last took the lease: agents get a full heartbeat timeout from then to check in. */
  private leaderSince: number | undefined;

  constructor(private readonly options: SchedulerOptions) {
    this.routing = new RoutingSnapshots(options.db);
    this.signals = options.signals ?? new LoadSignals();
    this.autoscaler = new Autoscaler(this.signals, options.scaleWindows);
    this.cluster = new ClusterCache(options.db, options.clusterCache);
    const leaseTtlMs = options.leaseTtlMs ?? 15_000;
    // Renewed every third of its life rather than every tick: a steady tick need not write at all.
    this.lease = new DatabaseLease(options.db, 'scheduler', options.instanceId, leaseTtlMs, leaseTtlMs / 3);
    this.loop = new RepeatingTask(() => this.tick(), {
      intervalMs: options.intervalMs ?? 2_000,
      onError: (err) => options.logger.error('scheduler tick failed', { error: String(err) }),
    });
    this.plan = {
      heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS,
      retireAfterMs: options.retireAfterMs ?? 5_000,
      idleSlackMs: options.idleSlackMs ?? 10_000,
    };
  }

  start(): void {
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
    await this.lease.release().catch(() => undefined);
  }

  /** Runs a tick soon; kicks during a tick coalesce into one more tick after it. */
  kick(): void {
    this.loop.kick();
  }

  /** One convergence step; returns false when another instance holds the lease. Tests call it directly. */
  async tick(now = Date.now()): Promise<boolean> {
    if (!(await this.lease.acquire(now))) {
      this.leaderSince = undefined;
      return false;
    }
    if (this.leaderSince === undefined) {
      // Another instance may have written while this one did not hold the lease: read everything again.
      this.cluster.invalidate();
      this.leaderSince = now;
    }
    try {
      await this.converge(now);
    } catch (err) {
      // What the view holds may be ahead of the database (a plan not written): read everything next time.
      this.cluster.invalidate();
      throw err;
    }
    return true;
  }

  private async converge(now: number): Promise<void> {
    const { db, changes } = this.options;
    const view = await this.cluster.read(now);
    // Canaries judged first: a rolled-back one leaves this very tick's routing.
    const { canaries, changed } = await advanceRollouts(db, view, now);
    if (changed) this.kick();
    const inputs = { scale: this.autoscaler.decide(view), firstCalls: this.firstCalls(view), canaries };
    const plan = planTick(view, { ...this.plan, leaderSince: this.leaderSince }, inputs);
    const notified = await applyPlan(db, plan, now, this.options.endedReplicaLogsMs);
    for (const agentId of notified) changes.notify(agentId);
    for (const agentId of plan.lostAgents) this.options.logger.warn('agent lost', { agentId });
    // The routing snapshot follows what was written: the view again, which re-reads the rows just written.
    // Nothing written and nothing read that changed: the snapshot computed last time stands.
    const wrote =
      plan.createWorkloads.length +
        plan.deleteWorkloads.length +
        plan.updateWorkloads.size +
        plan.lostAgents.length >
      0;
    let snapshot: RoutingSnapshot | undefined;
    const canaryShares = JSON.stringify([...canaries]);
    if (
      wrote ||
      this.cluster.routingGeneration !== this.routedGeneration ||
      canaryShares !== this.routedCanaries
    ) {
      this.startFailures ??= startFailuresOf((await this.routing.current()).deployments);
      const routed = routedDeployments(
        wrote ? await this.cluster.read(now) : view,
        canaries,
        this.startFailures,
      );
      snapshot = await this.routing.update(routed, now);
      this.startFailures = startFailuresOf(routed);
      this.routedGeneration = this.cluster.routingGeneration;
      this.routedCanaries = canaryShares;
    }
    const { publisher } = this.options;
    if (!publisher) return;
    // A new leader publishes what it finds once; a failed publish is retried on the next tick.
    if (!snapshot && (await this.routing.version()) <= this.published) return;
    const toPublish = snapshot ?? (await this.routing.current());
    if (toPublish.version > 0 && toPublish.version > this.published) {
      await publisher.publish(toPublish);
      this.published = toPublish.version;
    }
  }

  /** Ready replicas whose agents reported a first call that is not recorded yet. */
  private firstCalls(view: ClusterView): Map<string, number> {
    const found = new Map<string, number>();
    for (const w of view.workloads) {
      if (w.firstCallAt !== null || w.phase !== 'ready' || !w.agentId) continue;
      const at = this.signals.replica(w.agentId, w.id)?.firstBusyAt;
      if (at != null) found.set(w.id, at);
    }
    return found;
  }
}

function startFailuresOf(deployments: RoutedDeployment[]): Map<string, StartFailure> {
  const found = new Map<string, StartFailure>();
  for (const d of deployments) if (d.startFailure) found.set(d.deploymentId, d.startFailure);
  return found;
}
