import type { MeridianClient } from './client.js';
import { NetworkError } from './errors.js';

/** How a prediction is retried. Every attempt carries one Idempotency-Key, so the call is billed once. */
export interface RetryOptions {
  /** Attempts after the first, for a call whose connection broke or that was answered 502/503/504; default 3. */
  retries?: number;
  /** Base of the backoff: before attempt n+1 the SDK waits a random time up to retryDelayMs·2^n; default 200. */
  retryDelayMs?: number;
  /** Sent as the Idempotency-Key header (1–255 of A–Z a–z 0–9 _ . : -); default: a new random UUID per call. */
  idempotencyKey?: string;
  signal?: AbortSignal;
}

// The edge's rule (protocol's IDEMPOTENCY_KEY), repeated here: the SDK depends on no platform source.
const IDEMPOTENCY_KEY = /^[A-Za-z0-9_.:-]{1,255}$/;
// A gateway or overloaded replica answered: the call may not have run, or ran and will be billed once.
const RETRYABLE_STATUS = new Set([502, 503, 504]);
const DEFAULT_RETRIES = 3;
const DEFAULT_DELAY_MS = 200;
// Longest Retry-After honoured: a client waiting longer would rather see the error.
const MAX_RETRY_AFTER_MS = 5_000;

/**
 * POSTs `init` with an Idempotency-Key, sending it again after a broken connection or a 502/503/504 (not
 * after any other answer, nor once the caller aborts). Answers the last response, or throws the last
 * NetworkError.
 */
export async function sendWithRetry(
  client: MeridianClient,
  url: string,
  init: RequestInit,
  options: RetryOptions = {},
): Promise<Response> {
  const key = options.idempotencyKey ?? crypto.randomUUID();
  if (!IDEMPOTENCY_KEY.test(key))
    throw new TypeError('idempotencyKey must be 1–255 characters of A–Z, a–z, 0–9, _ . : -');
  const retries = options.retries ?? DEFAULT_RETRIES;
  if (!Number.isInteger(retries) || retries < 0) throw new TypeError('retries must be an integer ≥ 0');
  const baseDelay = options.retryDelayMs ?? DEFAULT_DELAY_MS;
  if (!(baseDelay >= 0)) throw new TypeError('retryDelayMs must be a number ≥ 0');
  const { signal } = options;
  const request: RequestInit = {
    ...init,
    headers: { ...(init.headers as Record<string, string>), 'idempotency-key': key },
    ...(signal ? { signal } : {}),
  };
  for (let attempt = 0; ; attempt++) {
    const backoff = Math.random() * baseDelay * 2 ** attempt;
    let res: Response;
    try {
      res = await client.authorized(url, request);
    } catch (err) {
      if (!(err instanceof NetworkError) || attempt >= retries || signal?.aborted) throw err;
      await sleep(backoff, signal);
      continue;
    }
    if (!RETRYABLE_STATUS.has(res.status) || attempt >= retries) return res;
    const wait = retryAfterMs(res.headers.get('retry-after')) ?? backoff;
    await res.body?.cancel();
    await sleep(wait, signal);
  }
}

/** Retry-After in milliseconds (delay-seconds or an HTTP date), capped; undefined when absent or unreadable. */
function retryAfterMs(value: string | null): number | undefined {
  if (value === null) return undefined;
  const ms = /^\d+$/.test(value.trim()) ? Number(value) * 1000 : Date.parse(value) - Date.now();
  return Number.isNaN(ms) ? undefined : Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
