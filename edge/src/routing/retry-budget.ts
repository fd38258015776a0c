/** How many retries a window allows: `ratio` of its requests plus `minPerWindow`. */
export interface RetryBudgetOptions {
  /** Retries allowed per request sent (0.2: an outage adds at most 20% load once the minimum is spent). */
  ratio?: number;
  /** Retries allowed per window regardless of traffic, so a quiet isolate can still retry. */
  minPerWindow?: number;
  windowMs?: number;
  now?: () => number;
}

const BUCKETS = 6;

/**
 * An isolate-wide retry budget over a sliding window (six buckets, so a minute slides by ten seconds):
 * retries ≤ ratio × requests + minPerWindow. When every replica is failing this keeps retries from
 * multiplying the load on what is left.
 */
export class RetryBudget {
  private readonly ratio: number;
  private readonly minPerWindow: number;
  private readonly bucketMs: number;
  private readonly now: () => number;
  private readonly requests = new Array<number>(BUCKETS).fill(0);
  private readonly retries = new Array<number>(BUCKETS).fill(0);
  private bucket = 0;
  private bucketStart: number;

  constructor(options: RetryBudgetOptions = {}) {
    this.ratio = options.ratio ?? 0.2;
    this.minPerWindow = options.minPerWindow ?? 10;
    this.bucketMs = (options.windowMs ?? 60_000) / BUCKETS;
    this.now = options.now ?? Date.now;
    this.bucketStart = this.now();
  }

  /** Counts a request (its first attempt). */
  recordRequest(): void {
    this.advance();
    this.requests[this.bucket] = (this.requests[this.bucket] ?? 0) + 1;
  }

  /** Takes one retry from the budget; false when the window has none left. */
  tryAcquireRetry(): boolean {
    this.advance();
    const requests = sum(this.requests);
    const retries = sum(this.retries);
    if (retries + 1 > this.ratio * requests + this.minPerWindow) return false;
    this.retries[this.bucket] = (this.retries[this.bucket] ?? 0) + 1;
    return true;
  }

  private advance(): void {
    const elapsed = Math.floor((this.now() - this.bucketStart) / this.bucketMs);
    if (elapsed <= 0) return;
    for (let i = 0; i < Math.min(elapsed, BUCKETS); i++) {
      this.bucket = (this.bucket + 1) % BUCKETS;
      this.requests[this.bucket] = 0;
      this.retries[this.bucket] = 0;
    }
    this.bucketStart += elapsed * this.bucketMs;
  }
}

function sum(values: readonly number[]): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}
