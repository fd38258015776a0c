/** How the batcher currently treats a batchable model. */
export type BatchMode = 'learning' | 'batching' | 'unbatched';

type Estimate = { perItemUs: number; samples: number };
type RunKind = 'single' | 'batched';

const ALPHA = 0.2;
/** Runs after a switch of kind that are not counted (see record). */
const WARMUP_RUNS = 2;
/** Runs per probe of the other side: its warm-up, then two that count. */
const PROBE_RUNS = WARMUP_RUNS + 2;

/**
 * Decides online whether stacking requests pays off for a model: it keeps a moving average of compute
 * time per item for runs of one request and for batched runs, batches only while batched items are
 * cheaper, and keeps probing the other side now and then so a change (load, thread contention) is seen.
 * Batching pays many times over for small MLPs and hurts the PaddleOCR recogniser, so this is measured,
 * not assumed.
 */
export class AdaptiveBatchPolicy {
  private readonly single: Estimate = { perItemUs: 0, samples: 0 };
  private readonly batched: Estimate = { perItemUs: 0, samples: 0 };
  /** Rows served since the last probe began. */
  private rowsSinceProbe = 0;
  private probeRunsLeft = 0;
  private probeLimit = 1;
  private lastKind: RunKind | undefined;
  /** Runs since the kind last changed, this one included (none changed yet: every run counts). */
  private sinceSwitch = Number.POSITIVE_INFINITY;

  /**
   * @param probeEveryRows rows served between probes. Counted in rows, not runs, so that a probe takes the
   * same small share of the traffic on either side: counted in runs (64), a model served unbatched under a
   * deep queue ran 4 batches of 32 every 64 single runs, two thirds of its rows in the mode it had rejected.
   */
  constructor(
    private readonly minSamples = 3,
    private readonly probeEveryRows = 2048,
  ) {}

  get mode(): BatchMode {
    if (this.single.samples < this.minSamples || this.batched.samples < this.minSamples) return 'learning';
    return this.batched.perItemUs <= this.single.perItemUs ? 'batching' : 'unbatched';
  }

  /** Per-item compute estimates (µs) for single and batched runs. */
  get estimates(): { singleUs: number; batchedUs: number } {
    return { singleUs: this.single.perItemUs, batchedUs: this.batched.perItemUs };
  }

  /**
   * Records one run: how many requests it served, how many rows they held, how long it took. The first
   * runs after a run of the other kind are left out: onnxruntime runs one row ~50% slower right after a
   * batch of 32 and ~15% slower the run after (PaddleOCR cls, 1,043 and 789 against 692 µs), so a lone
   * probe would always read the other side as worse than it is and the policy would never leave the
   * mode it started in.
   */
  record(requests: number, rows: number, computeUs: number): void {
    this.rowsSinceProbe += rows;
    const kind: RunKind = requests === 1 ? 'single' : 'batched';
    if (this.lastKind !== undefined && this.lastKind !== kind) this.sinceSwitch = 0;
    this.sinceSwitch += 1;
    this.lastKind = kind;
    if (this.sinceSwitch <= WARMUP_RUNS) return;
    const e = kind === 'single' ? this.single : this.batched;
    const perItem = computeUs / Math.max(1, rows);
    e.perItemUs = e.samples === 0 ? perItem : e.perItemUs + ALPHA * (perItem - e.perItemUs);
    e.samples += 1;
  }

  /** How many requests the next run may take, given the configured maximum and how many are queued. */
  nextLimit(maxBatch: number, queued: number): number {
    if (this.single.samples < this.minSamples) return 1;
    if (this.batched.samples < this.minSamples) return maxBatch;
    if (this.probeRunsLeft > 0) {
      // The probe's side, even if one of its counted runs already changed the mode.
      this.probeRunsLeft -= 1;
      return this.probeLimit;
    }
    const batching = this.mode === 'batching';
    // Probing batches needs requests to stack; probing single runs needs only one.
    if (this.rowsSinceProbe >= this.probeEveryRows && (batching || queued >= 2)) {
      this.rowsSinceProbe = 0;
      this.probeRunsLeft = PROBE_RUNS - 1;
      this.probeLimit = batching ? 1 : maxBatch;
      return this.probeLimit;
    }
    return batching ? maxBatch : 1;
  }
}
