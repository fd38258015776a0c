/** Request-milliseconds a batcher has spent computing and queueing since it started, and its counts now. */
export interface LoadReading {
  /** ∫ requests being computed dt, in request-milliseconds. */
  inFlightMs: number;
  /** ∫ requests waiting in the queue dt, in request-milliseconds. */
  queuedMs: number;
  inFlight: number;
  queued: number;
}

/**
 * Time-weighted counts of one batcher's requests: what the autoscaler reads as a replica's load. A sample
 * taken once a second would miss a model that answers in half a millisecond; the integral does not.
 */
export class LoadTally {
  private at = performance.now();
  private inFlight = 0;
  private queued = 0;
  private inFlightMs = 0;
  private queuedMs = 0;

  /** The counts from now on; the previous ones are added up to now. */
  set(inFlight: number, queued: number): void {
    const now = performance.now();
    const elapsed = now - this.at;
    this.inFlightMs += this.inFlight * elapsed;
    this.queuedMs += this.queued * elapsed;
    this.at = now;
    this.inFlight = inFlight;
    this.queued = queued;
  }

  read(): LoadReading {
    this.set(this.inFlight, this.queued);
    const { inFlightMs, queuedMs, inFlight, queued } = this;
    return { inFlightMs, queuedMs, inFlight, queued };
  }
}
