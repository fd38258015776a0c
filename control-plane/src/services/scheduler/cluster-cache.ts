import { sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import {
  type AgentView,
  type ClusterView,
  type DeploymentView,
  type NotebookView,
  readAgents,
  readDeployments,
  readNotebooks,
  readWorkloads,
  type WorkloadView,
} from './cluster-view.js';

export interface ClusterCacheOptions {
  /** A full read this often at the latest, whatever the change log says: a safety net. Default 60 s. */
  fullReadEveryMs?: number;
  /** The change log is trimmed once this many of its rows were read, or `pruneEveryMs` after the last trim. */
  pruneAfterRows?: number;
  pruneEveryMs?: number;
}

type Kind = 'agent' | 'workload' | 'deployment' | 'notebook';

/**
 * One kind of row held in memory by id, with its rows sorted by id built again only after a change. `routed`
 * is what of a row the routing snapshot depends on (./routing-snapshot.ts): a change that leaves it alone
 * (a heartbeat's time and inventory, a report) needs no new snapshot.
 */
class Rows<T extends { id: string }> {
  readonly byId = new Map<string, T>();
  private sorted: T[] | undefined;

  constructor(private readonly routed: (row: T) => string) {}

  /** Replaces the rows with these ids by `rows` (an id not among them is gone); true if routing may change. */
  replace(ids: Iterable<string>, rows: T[]): boolean {
    const before = new Map<string, string>();
    for (const id of ids) {
      const old = this.byId.get(id);
      if (old) before.set(id, this.routed(old));
      this.byId.delete(id);
    }
    let routing = false;
    for (const r of rows) {
      this.byId.set(r.id, r);
      if (before.get(r.id) !== this.routed(r)) routing = true;
      before.delete(r.id);
    }
    this.sorted = undefined;
    return routing || before.size > 0;
  }

  deleteWhere(gone: (row: T) => boolean): void {
    for (const [id, row] of this.byId) if (gone(row)) this.byId.delete(id);
    this.sorted = undefined;
  }

  /** Copies, sorted by id: a tick's plan edits the rows it is given. */
  copies(): T[] {
    this.sorted ??= [...this.byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return this.sorted.map((r) => ({ ...r }));
  }
}

// What the routing snapshot reads of each row: an agent's address, key and whether it is lost; a replica's
// deployment, revision, phase, host and retirement, and why it failed or waits (a start failure); a
// deployment's every field (they change seldom).
const routedAgent = (a: AgentView) => `${a.status === 'lost'}|${a.dataPlaneUrl}|${a.keyGeneration}`;
const routedWorkload = (w: WorkloadView) =>
  `${w.deploymentId}|${w.revision}|${w.phase}|${w.agentId}|${w.retireAt}|${w.attempt}|${w.failedAt}|${w.reason}|${w.pendingReason}`;
const routedDeployment = (d: DeploymentView) => JSON.stringify({ ...d, revisions: [...d.revisions] });
const notRouted = () => '';

interface State {
  agents: Rows<AgentView>;
  workloads: Rows<WorkloadView>;
  deployments: Rows<DeploymentView>;
  notebooks: Rows<NotebookView>;
  /** The last change-log row this state includes. */
  seq: number;
  fullReadAt: number;
}

/**
 * The scheduler's cluster view kept in memory between ticks. The database's triggers append every change to
 * the rows it is read from to `cluster_changes` (migrations/0013_cluster_changes.sql), whoever writes them:
 * heartbeats, the API, the scheduler itself, cascades. A tick reads the log since its last one and re-reads
 * only the rows it names, so a tick where nothing changed reads one empty query instead of every agent,
 * deployment and replica. The result is the same view `loadClusterView` returns (cluster-cache.test.ts).
 *
 * A full read happens at the first tick, after `invalidate()` (the scheduler calls it when it takes the
 * lease, or when a tick failed), when the log holds more rows than re-reading them is worth, and every
 * `fullReadEveryMs` as a safety net. Only the lease holder reads the log, so it alone trims it.
 */
export class ClusterCache {
  private state: State | undefined;
  private readonly fullReadEveryMs: number;
  private readonly pruneAfterRows: number;
  private readonly pruneEveryMs: number;
  private pruned = { seq: 0, at: 0 };
  /** Moves on whenever what the view holds changes: a view of the same generation is the same view. */
  generation = 0;
  /**
   * Moves on whenever what the routing snapshot is computed from may have changed: the same routing
   * generation gives the same snapshot. A full read always moves it.
   */
  routingGeneration = 0;
  /** How the last read went, for tests and the benchmark. */
  lastRead: { full: boolean; changes: number } = { full: true, changes: 0 };

  constructor(
    private readonly db: Database,
    options: ClusterCacheOptions = {},
  ) {
    this.fullReadEveryMs = options.fullReadEveryMs ?? 60_000;
    this.pruneAfterRows = options.pruneAfterRows ?? 2_000;
    this.pruneEveryMs = options.pruneEveryMs ?? 10_000;
  }

  /** The next read is a full one. */
  invalidate(): void {
    this.state = undefined;
  }

  /** The cluster as the database holds it now; the rows are copies the caller may edit. */
  async read(now: number): Promise<ClusterView> {
    let state = this.state;
    // A clock that went back (tests set it by hand) also reads everything again.
    if (!state || now - state.fullReadAt >= this.fullReadEveryMs || now < state.fullReadAt)
      state = await this.fullRead(now);
    else if (!(await this.follow(state))) state = await this.fullRead(now);
    this.state = state;
    await this.prune(state.seq, now);
    return {
      now,
      agents: new Map(state.agents.copies().map((a) => [a.id, a])),
      workloads: state.workloads.copies(),
      deployments: state.deployments.copies(),
      notebooks: state.notebooks.copies(),
    };
  }

  /** The last number the log handed out (AUTOINCREMENT never hands one out twice, even once trimmed). */
  private async lastSeq(): Promise<number> {
    const [row] = await this.db.all<{ seq: number }>(
      sql`select seq from sqlite_sequence where name = 'cluster_changes'`,
    );
    return row?.seq ?? 0;
  }

  private async fullRead(now: number): Promise<State> {
    // The log's position first: a change made during the reads below is read again on the next tick.
    const seq = await this.lastSeq();
    const state: State = {
      agents: new Rows(routedAgent),
      workloads: new Rows(routedWorkload),
      deployments: new Rows(routedDeployment),
      notebooks: new Rows(notRouted),
      seq,
      fullReadAt: now,
    };
    state.agents.replace([], await readAgents(this.db));
    state.workloads.replace([], await readWorkloads(this.db));
    state.deployments.replace([], await readDeployments(this.db));
    state.notebooks.replace([], await readNotebooks(this.db));
    this.lastRead = { full: true, changes: 0 };
    this.generation += 1;
    this.routingGeneration += 1;
    return state;
  }

  /** Applies the changes logged since `state.seq`; false when it cannot (or a full read is cheaper). */
  private async follow(state: State): Promise<boolean> {
    // The last number handed out, then what is logged since ours.
    const upTo = await this.lastSeq();
    const changes = await this.db.all<{ seq: number; kind: Kind; id: string }>(
      sql`select seq, kind, id from cluster_changes where seq > ${state.seq} order by seq`,
    );
    // Rows up to `last` missing: another instance trimmed the log past what this one read (it held the lease
    // meanwhile, which a new lease also catches); only a full read is sure to be right.
    if (upTo > state.seq && changes.filter((c) => c.seq <= upTo).length !== upTo - state.seq) return false;
    if (changes.length === 0) {
      this.lastRead = { full: false, changes: 0 };
      return true;
    }
    const ids: Record<Kind, Set<string>> = {
      agent: new Set(),
      workload: new Set(),
      deployment: new Set(),
      notebook: new Set(),
    };
    for (const c of changes) ids[c.kind]?.add(c.id);
    const distinct = ids.agent.size + ids.workload.size + ids.deployment.size + ids.notebook.size;
    const held =
      state.agents.byId.size +
      state.workloads.byId.size +
      state.deployments.byId.size +
      state.notebooks.byId.size;
    if (distinct > Math.max(1_000, held / 2)) return false;
    let routing = false;
    if (ids.agent.size > 0)
      routing = state.agents.replace(ids.agent, await readAgents(this.db, [...ids.agent])) || routing;
    if (ids.workload.size > 0)
      routing =
        state.workloads.replace(ids.workload, await readWorkloads(this.db, [...ids.workload])) || routing;
    if (ids.deployment.size > 0) {
      const read = await readDeployments(this.db, [...ids.deployment]);
      routing = state.deployments.replace(ids.deployment, read) || routing;
      // Their workloads went with them (a foreign-key cascade); the log names those too, this is a backstop.
      const gone = new Set([...ids.deployment].filter((id) => !state.deployments.byId.has(id)));
      if (gone.size > 0)
        state.workloads.deleteWhere((w) => w.deploymentId !== null && gone.has(w.deploymentId));
    }
    if (ids.notebook.size > 0) {
      state.notebooks.replace(ids.notebook, await readNotebooks(this.db, [...ids.notebook]));
      const gone = new Set([...ids.notebook].filter((id) => !state.notebooks.byId.has(id)));
      if (gone.size > 0) state.workloads.deleteWhere((w) => w.notebookId !== null && gone.has(w.notebookId));
    }
    if (routing) this.routingGeneration += 1;
    state.seq = changes[changes.length - 1]?.seq ?? state.seq;
    this.lastRead = { full: false, changes: changes.length };
    this.generation += 1;
    return true;
  }

  /** Trims the log up to what this state includes, now and then rather than on every tick. */
  private async prune(seq: number, now: number): Promise<void> {
    if (seq <= this.pruned.seq) return;
    if (seq - this.pruned.seq < this.pruneAfterRows && now - this.pruned.at < this.pruneEveryMs) return;
    await this.db.run(sql`delete from cluster_changes where seq <= ${seq}`);
    this.pruned = { seq, at: now };
  }
}
