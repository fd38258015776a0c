/**
 * Passive health per isolate: a replica whose connection failed (or timed out, or answered 503) is set aside
 * for a while, so the next requests go straight to the others instead of each spending a retry on it. The
 * snapshot drops a dead agent's replicas only after the control plane's heartbeat timeout (seconds); this
 * covers the gap. Set-aside replicas are still tried when no other is left.
 */
export class ReplicaHealth {
  private readonly until = new Map<string, number>();

  constructor(
    private readonly ejectMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  eject(workloadId: string): void {
    this.until.set(workloadId, this.now() + this.ejectMs);
    // Bounded: a long-lived isolate sees replicas come and go.
    if (this.until.size > 10_000) this.until.delete(this.until.keys().next().value as string);
  }

  /** A replica that answered is healthy again at once. */
  restore(workloadId: string): void {
    this.until.delete(workloadId);
  }

  /** The replicas set aside now. */
  ejected(): Set<string> {
    const now = this.now();
    const out = new Set<string>();
    for (const [id, until] of this.until) {
      if (until > now) out.add(id);
      else this.until.delete(id);
    }
    return out;
  }
}
