/** Thrown by WorkQueue.run when the lane it asked for is full: the caller answers 429 at once. */
export class QueueFull extends Error {
  override name = 'QueueFull';
}

export type Lane = 'high' | 'low';

/**
 * Runs at most `concurrency` jobs at a time; the rest wait in two lanes, each with its own cap, and a free
 * slot always goes to the high lane first. A job that finds its lane full is refused at once instead of
 * waiting, so a flood in the low lane can neither fill the high lane nor delay it by more than the jobs
 * already running.
 */
export class WorkQueue {
  private running = 0;
  private readonly waiting: Record<Lane, (() => void)[]> = { high: [], low: [] };

  constructor(
    private readonly concurrency: number,
    private readonly caps: Record<Lane, number>,
  ) {}

  async run<T>(lane: Lane, job: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting[lane].length >= this.caps[lane]) throw new QueueFull(`the ${lane} lane is full`);
      await new Promise<void>((resolve) => this.waiting[lane].push(resolve));
    } else {
      this.running += 1;
    }
    try {
      return await job();
    } finally {
      // The slot passes straight to the next waiter, so `running` stays counted for it.
      const next = this.waiting.high.shift() ?? this.waiting.low.shift();
      if (next) next();
      else this.running -= 1;
    }
  }

  get queued(): number {
    return this.waiting.high.length + this.waiting.low.length;
  }
}
