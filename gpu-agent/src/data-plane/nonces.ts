/**
 * Nonces of signed requests, each remembered until its signature could no longer be accepted anyway (its
 * timestamp plus the allowed skew), so a replay within the window is refused. Memory is bounded: entries
 * expire by time, and past `capacity` live entries `remember` answers 'full' (the caller sheds the request,
 * 503) rather than forget a nonce that could still be replayed. An entry costs ~100 bytes: the default
 * 500,000 (~50 MB) holds every nonce of ~16,000 signed requests a second (each kept ~31 s).
 */
export class NonceCache {
  // Insertion order is close to expiry order (timestamps arrive roughly in order), so pruning walks from the
  // front and stops at the first live entry; an entry inserted late with an early expiry waits its turn.
  private readonly expiries = new Map<string, number>();

  constructor(readonly capacity = 500_000) {}

  /** Whether `nonce` was remembered and has not expired. */
  seen(nonce: string, nowMs: number): boolean {
    const expiry = this.expiries.get(nonce);
    return expiry !== undefined && expiry >= nowMs;
  }

  /** Remembers `nonce` until `expiresAtMs`: 'replayed' if it is already held, 'full' at capacity. */
  remember(nonce: string, expiresAtMs: number, nowMs: number): 'ok' | 'replayed' | 'full' {
    if (this.seen(nonce, nowMs)) return 'replayed';
    if (this.expiries.size >= this.capacity) this.prune(nowMs, this.expiries.size);
    if (this.expiries.size >= this.capacity) return 'full';
    this.expiries.delete(nonce);
    this.expiries.set(nonce, expiresAtMs);
    // A little pruning per insert keeps the map near its live size without a timer.
    this.prune(nowMs, 2);
    return 'ok';
  }

  get size(): number {
    return this.expiries.size;
  }

  private prune(nowMs: number, budget: number): void {
    for (const [nonce, expiry] of this.expiries) {
      if (budget-- <= 0 || expiry >= nowMs) return;
      this.expiries.delete(nonce);
    }
  }
}
