import type { RoutingSnapshot } from '@meridian/protocol';
import type { RoutingSnapshots } from './routing-snapshot.js';

interface Waiter {
  test: (snapshot: RoutingSnapshot) => boolean;
  resolve: (snapshot: RoutingSnapshot | undefined) => void;
}

/**
 * Waits for the routing snapshot to show something (a deployment's first ready replica). One loop per process
 * reads the snapshot's version every `intervalMs` while anyone waits, and the document only when the version
 * moved, so a hundred waiting wakes cost one small query per interval. Reading the database rather than a
 * signal from the scheduler in this process also sees snapshots another instance wrote.
 */
export class RoutingWatch {
  private readonly waiters = new Set<Waiter>();
  private polling = false;
  private seen = -1;

  constructor(
    private readonly routing: RoutingSnapshots,
    private readonly intervalMs = 20,
  ) {}

  /** The snapshot now. */
  current(): Promise<RoutingSnapshot> {
    return this.routing.current();
  }

  /** The first snapshot (the current one included) that passes `test`, or undefined after `timeoutMs` or on abort. */
  until(
    test: (snapshot: RoutingSnapshot) => boolean,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<RoutingSnapshot | undefined> {
    return new Promise((resolve) => {
      const done = (snapshot: RoutingSnapshot | undefined) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.waiters.delete(waiter);
        resolve(snapshot);
      };
      const waiter: Waiter = { test, resolve: done };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      const onAbort = () => done(undefined);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(waiter);
      // A new waiter is checked against the current snapshot at once, whatever version was seen before.
      this.seen = -1;
      void this.poll();
    });
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      while (this.waiters.size > 0) {
        const version = await this.routing.version().catch(() => this.seen);
        if (version !== this.seen) {
          this.seen = version;
          const snapshot = await this.routing.current().catch(() => undefined);
          if (snapshot) for (const w of [...this.waiters]) if (w.test(snapshot)) w.resolve(snapshot);
        }
        if (this.waiters.size > 0) await new Promise((r) => setTimeout(r, this.intervalMs));
      }
    } finally {
      this.polling = false;
    }
  }
}
