/** A cached answer and when the control plane gave it (epoch ms); `fetchedAt` bounds how old a record is. */
export interface CachedRecord<V> {
  value: V;
  fetchedAt: number;
}

/**
 * A bounded in-isolate map whose entries go stale after their TTL. Stale entries stay readable (flagged
 * `fresh: false`) so the edge can keep serving a caller while the control plane is unreachable; the
 * size bound evicts the oldest insertion first.
 */
export class IsolateCache<V> {
  private readonly entries = new Map<string, CachedRecord<V> & { expiresAtMs: number }>();

  constructor(private readonly maxEntries: number) {}

  get(key: string, nowMs: number): (CachedRecord<V> & { fresh: boolean }) | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    return { value: entry.value, fetchedAt: entry.fetchedAt, fresh: entry.expiresAtMs > nowMs };
  }

  set(key: string, record: CachedRecord<V>, ttlMs: number, nowMs: number): void {
    // Delete first so a refreshed key moves to the back of the eviction order.
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { ...record, expiresAtMs: nowMs + ttlMs });
  }

  get size(): number {
    return this.entries.size;
  }
}
