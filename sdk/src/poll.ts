import { WaitTimeoutError } from './errors.js';

/** How long and how often a wait polls, and who hears of changes. */
export interface WaitOptions<T> {
  /** Told of the resource each time what the wait watches changes. */
  onChange?: (resource: T) => void;
  /** Default 10 minutes. */
  timeoutMs?: number;
  /** Default 1 s. */
  intervalMs?: number;
  signal?: AbortSignal;
}

/** What one poll decides: what to compare for onChange, and whether the wait is over. */
export interface PollRule<T> {
  /** Told to onChange when it differs from the last poll's. */
  seen(resource: T): unknown;
  /** The resource when the wait is over; throws when it ended badly; undefined to poll again. */
  settle(resource: T): T | undefined;
  /** The message of the WaitTimeoutError thrown past the timeout. */
  timedOut(resource: T): string;
}

/** Fetches the resource until the rule settles it, telling onChange of each change on the way. */
export async function pollUntil<T>(
  fetchOnce: () => Promise<T>,
  options: WaitOptions<T>,
  rule: PollRule<T>,
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 600_000);
  let last = '';
  for (;;) {
    options.signal?.throwIfAborted();
    const resource = await fetchOnce();
    const seen = JSON.stringify(rule.seen(resource));
    if (seen !== last) {
      last = seen;
      options.onChange?.(resource);
    }
    const settled = rule.settle(resource);
    if (settled) return settled;
    if (Date.now() > deadline) throw new WaitTimeoutError(rule.timedOut(resource));
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 1_000));
  }
}
