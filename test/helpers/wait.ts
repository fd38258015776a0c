/** Calls `read` every `intervalMs` until `done(value)`; throws with the last value after `timeoutMs`. Usable in hooks, where expect.poll is not. */
export async function waitUntil<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  options: { timeoutMs: number; intervalMs?: number; what: string },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await read();
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 250));
  }
  throw new Error(
    `${options.what}: not reached within ${options.timeoutMs} ms (last: ${JSON.stringify(last)})`,
  );
}
