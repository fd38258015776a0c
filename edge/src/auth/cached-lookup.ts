import { z } from 'zod';
import { ControlPlaneUnavailable } from '../control-plane.js';
import { type CachedRecord, IsolateCache } from './isolate-cache.js';

/** How long each tier trusts an answer. */
export interface LookupPolicy {
  /** Isolate TTL of a positive answer (KEY_CACHE_SECONDS). */
  positiveTtlMs: number;
  /** Isolate TTL of a negative answer (unknown key, revoked key, missing org). */
  negativeTtlMs: number;
  /** Age (since the control plane answered) up to which a KV record is used without asking again. */
  kvFreshMs: number;
}

/** What one lookup needs from the request: the KV binding, the control-plane call and the policy. */
export interface LookupContext<T> {
  kv: KVNamespace;
  /** Asks the control plane; `background` when no request waits for the answer. */
  load: (background: boolean) => Promise<T>;
  policy: LookupPolicy;
  /** The request's waitUntil: with it, a record due for refresh is refreshed after the response. */
  waitUntil?: (promise: Promise<unknown>) => void;
}

/**
 * KV keeps a record long after it stops being fresh: it is what the edge serves from while the control
 * plane is unreachable (static stability). Freshness is judged by `fetchedAt`, never by KV's own expiry.
 */
const KV_RETENTION_SECONDS = 7 * 24 * 3600;

/**
 * A waiter gives up on another request's in-flight load after this long and asks itself. The client's
 * own timeout is 3 s; this only matters if the request that started the load was cancelled mid-flight.
 */
const COALESCED_WAIT_MS = 4_000;

/**
 * A read-through cache in three tiers: this isolate's memory → Workers KV → the control plane.
 *
 * - Concurrent misses for one id share one control-plane call.
 * - A record is trusted for `kvFreshMs` after the control plane gave it (in KV) plus `positiveTtlMs` in an
 *   isolate, so a change on the control plane is seen within the sum of the two while it is reachable.
 * - When the control plane is unavailable, the newest record held (KV or isolate, however old) is served;
 *   with nothing held, ControlPlaneUnavailable propagates.
 * - Refresh ahead: once a positive record's isolate TTL has passed but it is still inside the revocation
 *   bound (`kvFreshMs + positiveTtlMs` since the control plane gave it), it is served while one background
 *   refresh runs (from KV when another isolate left a newer record there, else from the control plane),
 *   so a warm isolate never makes a request wait for the control plane.
 * - Negative answers are kept in the isolate only; they go to KV only to overwrite a positive record there,
 *   so a flood of made-up keys costs no KV writes and a revoked key cannot be revived from KV.
 */
export class CachedLookup<T> {
  private readonly isolate: IsolateCache<T>;
  private readonly inflight = new Map<string, Promise<T>>();
  private readonly stored: z.ZodType<CachedRecord<T>>;

  constructor(
    private readonly options: {
      /** KV key prefix, e.g. `key:` or `org:`. */
      prefix: string;
      /** Validates what KV returns; a record that does not parse counts as absent. */
      schema: z.ZodType<T>;
      isNegative: (value: T) => boolean;
      maxEntries: number;
    },
  ) {
    this.isolate = new IsolateCache<T>(options.maxEntries);
    this.stored = z.object({ value: options.schema, fetchedAt: z.number() });
  }

  async get(id: string, ctx: LookupContext<T>): Promise<T> {
    const nowMs = Date.now();
    const cached = this.isolate.get(id, nowMs);
    if (cached?.fresh) return cached.value;

    const bound = ctx.policy.kvFreshMs + ctx.policy.positiveTtlMs;
    if (
      cached &&
      ctx.waitUntil &&
      !this.options.isNegative(cached.value) &&
      nowMs - cached.fetchedAt < bound
    ) {
      if (!this.inflight.has(id)) ctx.waitUntil(this.start(id, cached, ctx, true).catch(() => undefined));
      return cached.value;
    }

    // The shared promise carries plain data only, so other requests may await it safely.
    const shared = this.inflight.get(id);
    if (shared) return waitOrLoad(shared, () => this.refresh(id, cached, ctx, false));
    return this.start(id, cached, ctx, false);
  }

  /** One refresh of `id`, which concurrent requests share. */
  private start(id: string, cached: CachedRecord<T> | undefined, ctx: LookupContext<T>, background: boolean) {
    const load = this.refresh(id, cached, ctx, background).finally(() => this.inflight.delete(id));
    this.inflight.set(id, load);
    return load;
  }

  private async refresh(
    id: string,
    inIsolate: CachedRecord<T> | undefined,
    ctx: LookupContext<T>,
    background: boolean,
  ): Promise<T> {
    const kvKey = this.options.prefix + id;
    const inKv = await this.readKv(ctx.kv, kvKey);
    // A refresh ahead takes KV's record only when another isolate put a newer one there. The record this
    // isolate already holds would leave its bound where it was: a caller whose next call comes after that
    // bound (every 15 s, say) would wait for the control plane on it, warm isolate or not.
    const onlyWhatWeHold =
      background && inIsolate !== undefined && inKv !== undefined && inKv.fetchedAt <= inIsolate.fetchedAt;
    if (inKv && !onlyWhatWeHold && Date.now() - inKv.fetchedAt < ctx.policy.kvFreshMs) {
      this.remember(id, inKv, ctx.policy, Date.now());
      return inKv.value;
    }

    // Stamped before the call: the answer reflects the control plane no earlier than this.
    const askedAt = Date.now();
    let value: T;
    try {
      value = await ctx.load(background);
    } catch (err) {
      if (!(err instanceof ControlPlaneUnavailable)) throw err;
      const fallback = newest(inKv, inIsolate);
      if (!fallback) throw err;
      // Static stability: keep serving what we last knew. Revocation now waits for the control plane to
      // come back. Re-remembering it spares every request a control-plane timeout for one isolate TTL.
      this.remember(id, fallback, ctx.policy, Date.now());
      return fallback.value;
    }

    const record = { value, fetchedAt: askedAt };
    this.remember(id, record, ctx.policy, Date.now());
    if (!this.options.isNegative(value) || inKv) await this.writeKv(ctx.kv, kvKey, record);
    return value;
  }

  private remember(id: string, record: CachedRecord<T>, policy: LookupPolicy, nowMs: number): void {
    const ttl = this.options.isNegative(record.value) ? policy.negativeTtlMs : policy.positiveTtlMs;
    this.isolate.set(id, record, ttl, nowMs);
  }

  private async readKv(kv: KVNamespace, key: string): Promise<CachedRecord<T> | undefined> {
    const raw = await kv.get(key, 'json');
    if (raw === null) return undefined;
    const parsed = this.stored.safeParse(raw);
    return parsed.success ? parsed.data : undefined;
  }

  private async writeKv(kv: KVNamespace, key: string, record: CachedRecord<T>): Promise<void> {
    try {
      await kv.put(key, JSON.stringify(record), { expirationTtl: KV_RETENTION_SECONDS });
    } catch (err) {
      // KV limits writes per key; a lost write only costs another control-plane call later.
      console.warn(JSON.stringify({ level: 'warn', message: 'KV write failed', key, error: String(err) }));
    }
  }
}

function newest<T>(
  a: CachedRecord<T> | undefined,
  b: CachedRecord<T> | undefined,
): CachedRecord<T> | undefined {
  if (!a) return b;
  if (!b) return a;
  return a.fetchedAt >= b.fetchedAt ? a : b;
}

const TIMED_OUT = Symbol('timed out');

async function waitOrLoad<T>(shared: Promise<T>, load: () => Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const giveUp = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), COALESCED_WAIT_MS);
  });
  try {
    const first = await Promise.race([shared, giveUp]);
    return first === TIMED_OUT ? await load() : first;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
