/**
 * Requests this isolate has sent to each replica and not yet had an answer from, for least-outstanding
 * choice. Per isolate on purpose: it is the load this isolate adds, and it costs nothing to read.
 */
export class OutstandingRequests {
  private readonly counts = new Map<string, number>();

  /** Requests in flight to a replica (by workload id). */
  count = (workloadId: string): number => this.counts.get(workloadId) ?? 0;

  /** Counts one request to a replica; the returned function ends it (calling it again does nothing). */
  start(workloadId: string): () => void {
    this.counts.set(workloadId, this.count(workloadId) + 1);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const left = this.count(workloadId) - 1;
      // Forget idle replicas, so replicas gone from the snapshot do not pile up in the map.
      if (left <= 0) this.counts.delete(workloadId);
      else this.counts.set(workloadId, left);
    };
  }
}
