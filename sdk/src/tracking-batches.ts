/**
 * What a run logger keeps between flushes, checked when it is logged (so the error points at the line that
 * logged it, not at a flush seconds later), and cut into bodies that fit the API's log-batch limits.
 */

export interface MetricPoint {
  key: string;
  value: number;
  step: number;
  timestamp: string;
}

export interface KeyValue {
  key: string;
  value: string;
}

export interface LogBatch {
  metrics: MetricPoint[];
  params: KeyValue[];
  tags: KeyValue[];
}

/** The API's log-batch limits (MLflow's): per body, and for the body's size. */
export const LOG_BATCH_LIMITS = { entries: 1000, params: 100, tags: 100, bodyBytes: 1_000_000 } as const;
const KEY_MAX = 250;
const PARAM_MAX = 6000;
const TAG_MAX = 8000;
/** Room under the body limit for the JSON around the entries. */
const BODY_BUDGET = LOG_BATCH_LIMITS.bodyBytes - 10_000;

/** The server's key rule: letters, digits, space and `_ . - /`, not absolute, no `..`. */
export function checkKey(key: string, what: string): void {
  const ok =
    key.length > 0 &&
    key.length <= KEY_MAX &&
    /^[A-Za-z0-9_.\-/ ]+$/.test(key) &&
    !key.startsWith('/') &&
    !key.includes('..');
  if (!ok) {
    throw new TypeError(
      `${what} key ${JSON.stringify(key)} is not valid: 1 to ${KEY_MAX} letters, digits, spaces and _ . - /, not starting with / and without ..`,
    );
  }
}

export function checkMetricValue(key: string, value: number): void {
  // JSON has no NaN or Infinity; the API refuses them, so refuse here, where the caller can see which.
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new RangeError(`metric ${JSON.stringify(key)}: ${String(value)} is not a finite number`);
  }
}

export function checkStep(key: string, step: number): void {
  if (!Number.isSafeInteger(step) || step < 0) {
    throw new RangeError(`metric ${JSON.stringify(key)}: step ${step} is not a whole number ≥ 0`);
  }
}

export function checkText(key: string, value: string, what: 'param' | 'tag'): void {
  const max = what === 'param' ? PARAM_MAX : TAG_MAX;
  if (value.length > max) {
    throw new RangeError(
      `${what} ${JSON.stringify(key)}: the value is ${value.length} characters, at most ${max}`,
    );
  }
}

const utf8 = new TextEncoder();
const sizeOf = (entry: object) => utf8.encode(JSON.stringify(entry)).length + 1;

/**
 * Cuts what is pending into bodies the API takes: at most 1,000 entries, 100 params and 100 tags each, and
 * under its 1 MB body limit. Params go first and in bodies of their own: a param the server refuses (logged
 * before with another value) fails its whole body, and must not take metrics with it.
 */
export function splitIntoBatches(pending: LogBatch): LogBatch[] {
  const batches: LogBatch[] = [];
  let current: LogBatch = { metrics: [], params: [], tags: [] };
  let entries = 0;
  let bytes = 0;
  const cut = () => {
    if (entries > 0) batches.push(current);
    current = { metrics: [], params: [], tags: [] };
    entries = 0;
    bytes = 0;
  };
  const add = (kind: keyof LogBatch, entry: MetricPoint | KeyValue, cap: number) => {
    const size = sizeOf(entry);
    if (entries === LOG_BATCH_LIMITS.entries || current[kind].length === cap || bytes + size > BODY_BUDGET)
      cut();
    (current[kind] as (typeof entry)[]).push(entry);
    entries += 1;
    bytes += size;
  };
  for (const p of pending.params) add('params', p, LOG_BATCH_LIMITS.params);
  cut();
  for (const t of pending.tags) add('tags', t, LOG_BATCH_LIMITS.tags);
  for (const m of pending.metrics) add('metrics', m, LOG_BATCH_LIMITS.entries);
  cut();
  return batches;
}
