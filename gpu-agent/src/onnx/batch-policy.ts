/** How the batcher currently treats a batchable model. */
export type BatchMode = 'learning' | 'batching' | 'unbatched';

type RunKind = 'single' | 'batched';

/** Counted runs an estimate keeps: its median ignores a few slow ones. */
const WINDOW = 9;

/**
 * Compute per row of one kind of run: the median of the last WINDOW counted runs. Not a moving average:
 * on a CPU host the model's thread is now and then descheduled or paused (PaddleOCR cls single runs of
 * 4.8–5.7 ms among runs of 0.62–0.7 ms, at 64 callers), and one such run blended in at 0.2 doubled the
 * estimate and flipped the mode. A probe starts its side's window afresh (restart), so the probe's runs
 * replace what was measured a probe ago, or at the model's cold start, instead of being blended into it.
 */
class Estimate {
  /** Counted runs since the model started: learning needs a few on each side. */
  samples = 0;
  private recent: number[] = [];
  private median = 0;

  get perItemUs(): number {
    return this.median;
  }

  restart(): void {
    this.recent = [];
  }

  add(perItemUs: number): void {
    this.samples += 1;
    this.recent.push(perItemUs);
    if (this.recent.length > WINDOW) this.recent.shift();
    const sorted = [...this.recent].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    this.median =
      sorted.length % 2 === 1
        ? (sorted[mid] as number)
        : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  }
}

/**
 * Runs after a switch of kind that are not counted (see record), and at a model's start: its first runs
 * are slow (PaddleOCR cls: 8.9, 2.7 and 1.2 ms for single runs that take 0.7 ms warm), and an estimate
 * started from them kept the agent batching that model through whole benchmark cells. Single runs need
 * more: the first ones after a batch share the CPU with the main thread answering that batch.
 */
const WARMUP_RUNS: Record<RunKind, number> = { single: 8, batched: 2 };
/** Counted runs per probe of each side, after its warm-up: 12 single runs, or 5 batches. */
const COUNTED_PROBE_RUNS: Record<RunKind, number> = { single: 4, batched: 3 };

/**
 * Batching is chosen only when a batched row costs at most this share of a single run's compute. It has
 * costs the model's compute time does not show: requests wait to be stacked, rows are copied in and out,
 * answers go out in bursts, and callers that wait for their answer fall into step with the batches.
 * PaddleOCR cls on a CPU host computes a batched row within ±10% of a single run (0.77–0.89 ms against
 * 0.73–0.89 ms) and served 13–28% fewer answers batched at 8 callers; models that gain from batching gain
 * far more (small MLP 0.12, wide MLP 0.24 of a single run's compute per row; on a GPU, more still).
 */
const BATCHING_GAIN = 0.8;
/**
 * Rows until the next probe once the served side's readings cross the other side's last one: the mode
 * changes only on two readings taken under the same conditions. PaddleOCR cls single runs read 1.3 ms
 * instead of 0.7 ms once 64 callers kept the main thread busy, against batches measured at 8 callers, and
 * the agent switched to batching, which served a third fewer answers.
 */
const EARLY_PROBE_ROWS = 256;

/**
 * Decides online whether stacking requests pays off for a model: it estimates the compute time per item
 * of runs of one request and of batched runs, batches only while batched items are clearly cheaper, and
 * keeps probing the other side now and then so a change (load, thread contention) is seen. Batching pays
 * many times over for small MLPs and hurts the PaddleOCR recogniser, so this is measured, not assumed.
 */
export class AdaptiveBatchPolicy {
  private readonly single = new Estimate();
  private readonly batched = new Estimate();
  /** Rows served since the last probe began. */
  private rowsSinceProbe = 0;
  private probeRunsLeft = 0;
  private probeLimit = 1;
  private lastKind: RunKind | undefined;
  /** Runs since the kind last changed (or the model started), this one included. */
  private sinceSwitch = 0;
  /** The mode chosen when learning ended or a probe last finished; undefined while learning. */
  private chosen: 'batching' | 'unbatched' | undefined;
  /** Counted runs of the probe under way. */
  private probeCounted = 0;

  /**
   * @param probeEveryRows rows served between probes. Counted in rows, not runs, so that a probe takes the
   * same small share of the traffic on either side: counted in runs (64), a model served unbatched under a
   * deep queue ran 4 batches of 32 every 64 single runs, two thirds of its rows in the mode it had rejected.
   */
  constructor(
    private readonly minSamples = 5,
    private readonly probeEveryRows = 2048,
  ) {}

  get mode(): BatchMode {
    return this.chosen ?? 'learning';
  }

  private better(): 'batching' | 'unbatched' {
    return this.batched.perItemUs <= this.single.perItemUs * BATCHING_GAIN ? 'batching' : 'unbatched';
  }

  /** Per-item compute estimates (µs) for single and batched runs. */
  get estimates(): { singleUs: number; batchedUs: number } {
    return { singleUs: this.single.perItemUs, batchedUs: this.batched.perItemUs };
  }

  /**
   * Records one run: how many requests it served, how many rows they held, how long it took. The first
   * runs of a kind (WARMUP_RUNS) are left out: onnxruntime runs one row ~50% slower right after a batch of
   * 32 and ~15% slower the run after (PaddleOCR cls, 1,043 and 789 against 692 µs), so a lone probe would
   * always read the other side as worse than it is and the policy would never leave the mode it started
   * in. A probe's counted runs replace the other side's estimate: blended into an estimate taken thousands
   * of rows ago (or at the model's cold start), two runs a probe took minutes to correct it. The mode
   * changes only when a probe ends, and a served side that drifts past the other's last reading brings
   * the next probe forward (EARLY_PROBE_ROWS) instead of switching on a stale comparison.
   */
  record(requests: number, rows: number, computeUs: number): void {
    this.rowsSinceProbe += rows;
    const kind: RunKind = requests === 1 ? 'single' : 'batched';
    if (this.lastKind !== kind) this.sinceSwitch = 0;
    this.sinceSwitch += 1;
    this.lastKind = kind;
    if (this.sinceSwitch <= WARMUP_RUNS[kind]) return;
    const e = kind === 'single' ? this.single : this.batched;
    const servedSide = this.chosen === (kind === 'single' ? 'unbatched' : 'batching');
    if (this.sinceSwitch === WARMUP_RUNS[kind] + 1 && !servedSide) {
      e.restart();
      this.probeCounted = 0;
    }
    e.add(computeUs / Math.max(1, rows));
    if (this.chosen === undefined) {
      if (this.single.samples >= this.minSamples && this.batched.samples >= this.minSamples)
        this.chosen = this.better();
    } else if (!servedSide) {
      // The mode is chosen again once the probe has all its counted runs: both sides freshly measured.
      this.probeCounted += 1;
      if (this.probeCounted === COUNTED_PROBE_RUNS[kind]) this.chosen = this.better();
    } else if (this.better() !== this.chosen) {
      this.rowsSinceProbe = Math.max(this.rowsSinceProbe, this.probeEveryRows - EARLY_PROBE_ROWS);
    }
  }

  /**
   * Whether the next runs take one request each once learning is done (probing single runs, or serving
   * unbatched): the batcher then keeps several in flight, as for a model that never batches, so a probe
   * measures single runs as unbatched serving would run them.
   */
  get singleRunsNext(): boolean {
    if (this.mode === 'learning') return false;
    if (this.probeRunsLeft > 0) return this.probeLimit === 1;
    return this.mode === 'unbatched';
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
      const probed: RunKind = batching ? 'single' : 'batched';
      this.probeRunsLeft = WARMUP_RUNS[probed] + COUNTED_PROBE_RUNS[probed] - 1;
      this.probeLimit = batching ? 1 : maxBatch;
      return this.probeLimit;
    }
    return batching ? maxBatch : 1;
  }
}
