import type { GpuType, UsageEntry } from '@meridian/protocol';

type Open = { gpuType: GpuType; since: number };
type Closed = { workloadId: string; gpuType: GpuType; from: number; to: number };

/**
 * Running time per workload and GPU type, in memory: `start` when a workload serves, `stop` when it no
 * longer does, `drain` hands over everything accrued since the last drain as usage entries.
 */
export class UsageMeter {
  private readonly open = new Map<string, Open>();
  private closed: Closed[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  start(workloadId: string, gpuType: GpuType): void {
    if (!this.open.has(workloadId)) this.open.set(workloadId, { gpuType, since: this.now() });
  }

  stop(workloadId: string): void {
    const running = this.open.get(workloadId);
    if (!running) return;
    this.open.delete(workloadId);
    this.closed.push({ workloadId, gpuType: running.gpuType, from: running.since, to: this.now() });
  }

  /** Entries for all time accrued so far; running workloads go on accruing from now. */
  drain(): UsageEntry[] {
    const now = this.now();
    const spans = this.closed;
    this.closed = [];
    for (const [workloadId, running] of this.open) {
      spans.push({ workloadId, gpuType: running.gpuType, from: running.since, to: now });
      running.since = now;
    }
    return spans
      .filter((s) => s.to > s.from)
      .map((s) => ({
        workloadId: s.workloadId,
        gpuType: s.gpuType,
        seconds: (s.to - s.from) / 1000,
        from: new Date(s.from).toISOString(),
        to: new Date(s.to).toISOString(),
      }));
  }
}
