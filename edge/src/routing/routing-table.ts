import { type RoutedDeployment, RoutingSnapshot, type RoutingUnchanged } from '@meridian/protocol';
import { ControlPlaneClient } from '../control-plane.js';
import type { Env } from '../env.js';
import { EdgeError } from '../errors.js';

export type RoutingEnv = Pick<
  Env,
  'CONTROL_PLANE_URL' | 'EDGE_SERVICE_TOKEN' | 'EDGE_KV' | 'ROUTING_REFRESH_SECONDS'
>;

/** Where a pull comes from; the control plane's /internal/v1/routing unless a test says otherwise. */
export type RoutingSource = (env: RoutingEnv, since?: number) => Promise<RoutingSnapshot | RoutingUnchanged>;

/** The KV key of the last snapshot any isolate pulled: what a fresh isolate serves while the control plane is down. */
export const ROUTING_KV_KEY = 'routing:snapshot';
const DEFAULT_REFRESH_SECONDS = 2;
/** How recent a snapshot must be for a lookup that missed in it not to pull again. */
const MISS_REFRESH_MS = 250;
/** Pulls `fresh` makes at most to reach the version it was asked for. */
const FRESH_PULLS = 3;

const pullFromControlPlane: RoutingSource = (env, since) => new ControlPlaneClient(env).routing(since);

type Held = { snapshot: RoutingSnapshot; checkedAt: number };

/**
 * The routing snapshot this isolate serves from. It is pulled (`since` the held version) once it is older
 * than ROUTING_REFRESH_SECONDS; concurrent requests share one pull, and with an execution context the held
 * snapshot answers at once while the pull runs in the background. Every new snapshot is written to KV; a
 * failed pull keeps the held snapshot, or the newer of it and KV's (static stability).
 */
export class RoutingTable {
  private held: Held | undefined;
  private pulling: Promise<RoutingSnapshot> | undefined;

  constructor(
    private readonly source: RoutingSource = pullFromControlPlane,
    private readonly now: () => number = Date.now,
  ) {}

  /** The snapshot to route by; throws EdgeError('unavailable') only when there is none anywhere. */
  async snapshot(env: RoutingEnv, ctx?: Pick<ExecutionContext, 'waitUntil'>): Promise<RoutingSnapshot> {
    const held = this.held;
    if (!held) return this.refresh(env, ctx);
    if (this.now() - held.checkedAt < refreshMs(env)) return held.snapshot;
    if (!ctx) return this.refresh(env);
    ctx.waitUntil(this.refresh(env, ctx).catch(() => undefined));
    return held.snapshot;
  }

  /**
   * The snapshot to look again in after a lookup missed (a deployment created a moment ago): pulled now
   * unless pulled within MISS_REFRESH_MS, so unknown names cost at most a few cheap `since` pulls a second.
   */
  async afterMiss(env: RoutingEnv): Promise<RoutingSnapshot> {
    const held = this.held;
    if (held && this.now() - held.checkedAt < Math.min(MISS_REFRESH_MS, refreshMs(env))) return held.snapshot;
    return this.refresh(env);
  }

  /**
   * A snapshot pulled now, or at least `minVersion` (the one a wake named as showing a ready replica): held
   * calls go on as soon as the control plane has published readiness, not at the next refresh. A pull that
   * was already in flight may predate that version, so it is pulled again, a few times at most.
   */
  async fresh(env: RoutingEnv, minVersion?: number): Promise<RoutingSnapshot> {
    let latest = this.held?.snapshot;
    for (let pulls = 0; pulls < FRESH_PULLS; pulls++) {
      if (latest && minVersion !== undefined && latest.version >= minVersion) return latest;
      latest = await this.refresh(env);
      if (minVersion === undefined) return latest;
    }
    if (!latest) return this.refresh(env);
    return latest;
  }

  private refresh(env: RoutingEnv, ctx?: Pick<ExecutionContext, 'waitUntil'>): Promise<RoutingSnapshot> {
    this.pulling ??= this.pull(env, ctx).finally(() => {
      this.pulling = undefined;
    });
    return this.pulling;
  }

  private async pull(env: RoutingEnv, ctx?: Pick<ExecutionContext, 'waitUntil'>): Promise<RoutingSnapshot> {
    const held = this.held;
    let answer: RoutingSnapshot | RoutingUnchanged;
    try {
      answer = await this.source(env, held?.snapshot.version);
    } catch (err) {
      return this.fallBack(env, err);
    }
    if ('unchanged' in answer && held && answer.version === held.snapshot.version) {
      held.checkedAt = this.now();
      return held.snapshot;
    }
    if ('unchanged' in answer) {
      // `unchanged` for a version this isolate does not hold: ask once more for the whole snapshot.
      try {
        answer = await this.source(env);
      } catch (err) {
        return this.fallBack(env, err);
      }
      if ('unchanged' in answer)
        return this.fallBack(env, new Error('control plane answered unchanged to a full pull'));
    }
    this.held = { snapshot: answer, checkedAt: this.now() };
    const write = env.EDGE_KV.put(ROUTING_KV_KEY, JSON.stringify(answer)).catch((err: unknown) => {
      console.warn(
        JSON.stringify({ level: 'warn', message: 'routing snapshot KV write failed', error: String(err) }),
      );
    });
    if (ctx) ctx.waitUntil(write);
    else await write;
    return answer;
  }

  private async fallBack(env: RoutingEnv, cause: unknown): Promise<RoutingSnapshot> {
    console.warn(JSON.stringify({ level: 'warn', message: 'routing pull failed', error: String(cause) }));
    const fromKv = await readKvSnapshot(env);
    const held = this.held;
    const best = held && (!fromKv || fromKv.version <= held.snapshot.version) ? held.snapshot : fromKv;
    if (!best)
      throw new EdgeError('unavailable', 'routing is unavailable: the control plane is unreachable', {
        'Retry-After': '1',
      });
    // Trusted for another interval, so a down control plane is asked once per interval, not per request.
    this.held = { snapshot: best, checkedAt: this.now() };
    return best;
  }
}

async function readKvSnapshot(env: RoutingEnv): Promise<RoutingSnapshot | undefined> {
  try {
    const parsed = RoutingSnapshot.safeParse(await env.EDGE_KV.get(ROUTING_KV_KEY, 'json'));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function refreshMs(env: RoutingEnv): number {
  const seconds = Number(env.ROUTING_REFRESH_SECONDS);
  return (
    (env.ROUTING_REFRESH_SECONDS !== undefined && Number.isFinite(seconds) && seconds >= 0
      ? seconds
      : DEFAULT_REFRESH_SECONDS) * 1000
  );
}

let isolateTable: RoutingTable | undefined;

/**
 * This isolate's routing table. Bindings are the same for every request an isolate serves, so one table
 * serves them all; `env` is what its pulls use (passed again to `snapshot`).
 */
export function routingTable(_env?: RoutingEnv): RoutingTable {
  isolateTable ??= new RoutingTable();
  return isolateTable;
}

type Index = { byName: Map<string, RoutedDeployment>; byId: Map<string, RoutedDeployment> };

// Built once per snapshot (snapshots are never mutated), so a lookup costs a map read, not a scan.
const indexes = new WeakMap<RoutingSnapshot, Index>();

function indexOf(snapshot: RoutingSnapshot): Index {
  let index = indexes.get(snapshot);
  if (!index) {
    index = { byName: new Map(), byId: new Map() };
    for (const d of snapshot.deployments) {
      index.byName.set(`${d.orgId}\n${d.name}`, d);
      index.byId.set(d.deploymentId, d);
    }
    indexes.set(snapshot, index);
  }
  return index;
}

/** The deployment called `name` in the caller's org; another org's deployment is never found. */
export function findByName(
  snapshot: RoutingSnapshot,
  orgId: string,
  name: string,
): RoutedDeployment | undefined {
  return indexOf(snapshot).byName.get(`${orgId}\n${name}`);
}

/** The deployment with this id in the caller's org; another org's deployment is never found. */
export function findById(
  snapshot: RoutingSnapshot,
  orgId: string,
  deploymentId: string,
): RoutedDeployment | undefined {
  const d = indexOf(snapshot).byId.get(deploymentId);
  return d?.orgId === orgId ? d : undefined;
}
