import type { RoutedDeployment, RoutingSnapshot, RoutingUnchanged, StartFailure } from '@meridian/protocol';
import { eq } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { routingSnapshots } from '../../db/schema.js';
import { applyCanaryWeights, type CanaryRouting } from '../rollouts/routing.js';
import type { ClusterView } from './cluster-view.js';
import { startFailureOf } from './start-failure.js';

const ROW_ID = 1;

/**
 * Where each deployment is served: ready, non-retiring replicas on agents that are not lost, grouped by model
 * version. Each version's weight is its share of the ready replicas, so a rollout shifts traffic replica by
 * replica and the old version leaves only once the new one is fully ready. A deployment no replica serves
 * names its current version with no replicas, and carries why its last start failed, if it did
 * (./start-failure.ts); `previous` is what the snapshot before carried, kept while a replica retries.
 */
export function routedDeployments(
  view: ClusterView,
  canaries?: ReadonlyMap<string, CanaryRouting>,
  previous?: ReadonlyMap<string, StartFailure>,
): RoutedDeployment[] {
  // Each deployment's routable replicas, found in one pass: a tick has thousands of both.
  const routable = new Map<string, ClusterView['workloads']>();
  // And those that are not ready: where a deployment nothing serves looks for why.
  const unready = new Map<string, ClusterView['workloads']>();
  for (const w of view.workloads) {
    if (w.deploymentId === null) continue;
    if (w.phase !== 'ready' || !w.agentId) {
      const list = unready.get(w.deploymentId);
      if (list) list.push(w);
      else unready.set(w.deploymentId, [w]);
      continue;
    }
    if (w.retireAt !== null) continue;
    const list = routable.get(w.deploymentId);
    if (list) list.push(w);
    else routable.set(w.deploymentId, [w]);
  }
  return view.deployments.map((d) => {
    const byRevision = new Map<
      number,
      { workloadId: string; agentId: string; url: string; keyGeneration: number }[]
    >();
    for (const w of routable.get(d.id) ?? []) {
      if (!w.agentId) continue;
      const agent = view.agents.get(w.agentId);
      if (!agent || agent.status === 'lost' || w.revision === null) continue;
      const list = byRevision.get(w.revision) ?? [];
      list.push({
        workloadId: w.id,
        agentId: agent.id,
        url: agent.dataPlaneUrl,
        keyGeneration: agent.keyGeneration,
      });
      byRevision.set(w.revision, list);
    }
    const total = [...byRevision.values()].reduce((n, r) => n + r.length, 0);
    const revisions = [...byRevision.keys()].sort((a, b) => a - b);
    const versions = revisions.flatMap((revision) => {
      const model = d.revisions.get(revision);
      const replicas = byRevision.get(revision) ?? [];
      if (!model) return [];
      return [
        {
          versionId: model.versionId,
          version: model.version,
          weight: Math.floor((100 * replicas.length) / total),
          replicas,
        },
      ];
    });
    // Rounding leftovers go to the newest version, so the weights sum to exactly 100.
    const newest = versions.at(-1);
    if (newest) newest.weight += 100 - versions.reduce((n, v) => n + v.weight, 0);
    // A running canary takes its share of calls, not its share of replicas.
    const canary = canaries?.get(d.id);
    if (canary) applyCanaryWeights(versions, d.revisions, canary);
    // The deployment's own wait for a held call; the count and byte bounds stay the edge's.
    const hold = { maxWaitMs: d.holdTimeoutSeconds * 1000 };
    const startFailure =
      versions.length === 0 ? startFailureOf(d, unready.get(d.id) ?? [], previous?.get(d.id)) : undefined;
    // With no replica ready (scaled to zero, starting) the version it serves is still named, with none: the
    // edge tells a pinned version it serves (a probe wakes it, stats read zero) from one it does not (404).
    const current = versions.length === 0 ? d.revisions.get(d.revision) : undefined;
    if (current)
      versions.push({ versionId: current.versionId, version: current.version, weight: 100, replicas: [] });
    return {
      deploymentId: d.id,
      orgId: d.orgId,
      name: d.name,
      deterministic: d.deterministic,
      versions,
      hold,
      ...(startFailure ? { startFailure } : {}),
    };
  });
}

/** The stored snapshot: its version moves only when what it routes changes. */
export class RoutingSnapshots {
  /** The deployments of the version this instance last read or wrote, as JSON: a tick compares against it. */
  private last: { version: number; deployments: string } | undefined;

  constructor(private readonly db: Database) {}

  /** The current snapshot, or `unchanged` when `since` is its version. */
  async pull(since?: number): Promise<RoutingSnapshot | RoutingUnchanged> {
    const current = await this.current();
    return since !== undefined && since === current.version
      ? { unchanged: true, version: current.version }
      : current;
  }

  /** The current version alone (no document parsed): cheap enough to poll. */
  async version(): Promise<number> {
    const [row] = await this.db
      .select({ version: routingSnapshots.version })
      .from(routingSnapshots)
      .where(eq(routingSnapshots.id, ROW_ID));
    return row?.version ?? 0;
  }

  async current(): Promise<RoutingSnapshot> {
    const [row] = await this.db.select().from(routingSnapshots).where(eq(routingSnapshots.id, ROW_ID));
    if (!row) return { version: 0, generatedAt: new Date(0).toISOString(), deployments: [] };
    return JSON.parse(row.document) as RoutingSnapshot;
  }

  /** Stores `deployments` as a new version if they differ from the current one; returns it when stored. */
  async update(deployments: RoutedDeployment[], now: number): Promise<RoutingSnapshot | undefined> {
    const version = await this.version();
    if (this.last?.version !== version) {
      const current = await this.current();
      this.last = { version: current.version, deployments: JSON.stringify(current.deployments) };
    }
    const json = JSON.stringify(deployments);
    if (this.last.deployments === json) return undefined;
    const next: RoutingSnapshot = {
      version: version + 1,
      generatedAt: new Date(now).toISOString(),
      deployments,
    };
    const document = JSON.stringify(next);
    await this.db
      .insert(routingSnapshots)
      .values({ id: ROW_ID, version: next.version, document, updatedAt: new Date(now) })
      .onConflictDoUpdate({
        target: routingSnapshots.id,
        set: { version: next.version, document, updatedAt: new Date(now) },
      });
    this.last = { version: next.version, deployments: json };
    return next;
  }
}
