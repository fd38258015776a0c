/** Exponential backoff with full jitter: attempt n waits a random time in [base/2, min(cap, base·2ⁿ)]. */
export function backoffMs(attempt: number, baseMs = 500, capMs = 30_000, random = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(baseMs / 2 + random() * Math.max(0, ceiling - baseMs / 2));
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects: loops check `signal.aborted`). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** ±10 % around `ms`, so a fleet started together does not heartbeat in lockstep. */
export function jitter(ms: number, random = Math.random): number {
  return Math.round(ms * (0.9 + random() * 0.2));
}
