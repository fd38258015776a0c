/** How the batcher currently treats a batchable model. */
export type BatchMode = 'learning' | 'batching' | 'unbatched';

type Estimate = { perItemUs: number; samples: number };

const ALPHA = 0.2;

/**
 * Decides online whether stacking requests pays off for a model: it keeps a moving average of compute
 * time per item for runs of one request and for batched runs, batches only while batched items are
 * cheaper, and keeps probing the other side now and then so a change (load, thread contention) is seen.
 * Batching helps PaddleOCR cls (~1.7× at 32) but hurts its recogniser, so this is measured, not assumed.
 */
export class AdaptiveBatchPolicy {
  private readonly single: Estimate = { perItemUs: 0, samples: 0 };
  private readonly batched: Estimate = { perItemUs: 0, samples: 0 };
  private sinceProbe = 0;

  constructor(
    private readonly minSamples = 3,
    private readonly probeEvery = 64,
  ) {}

  get mode(): BatchMode {
    if (this.single.samples < this.minSamples || this.batched.samples < this.minSamples) return 'learning';
    return this.batched.perItemUs <= this.single.perItemUs ? 'batching' : 'unbatched';
  }

  /** Per-item compute estimates (µs) for single and batched runs. */
  get estimates(): { singleUs: number; batchedUs: number } {
    return { singleUs: this.single.perItemUs, batchedUs: this.batched.perItemUs };
  }

  /** Records one run: how many requests it served, how many rows they held, how long it took. */
  record(requests: number, rows: number, computeUs: number): void {
    const e = requests === 1 ? this.single : this.batched;
    const perItem = computeUs / Math.max(1, rows);
    e.perItemUs = e.samples === 0 ? perItem : e.perItemUs + ALPHA * (perItem - e.perItemUs);
    e.samples += 1;
  }

  /** How many requests the next run may take, given the configured maximum and how many are queued. */
  nextLimit(maxBatch: number, queued: number): number {
    if (this.single.samples < this.minSamples) return 1;
    if (this.batched.samples < this.minSamples) return maxBatch;
    this.sinceProbe += 1;
    const probe = this.sinceProbe >= this.probeEvery;
    if (this.mode === 'batching') {
      if (probe) this.sinceProbe = 0;
      return probe ? 1 : maxBatch;
    }
    if (probe && queued >= 2) {
      this.sinceProbe = 0;
      return maxBatch;
    }
    return 1;
  }
}
