import type { Tensor, TensorData } from '@meridian/protocol';
import type { ModelSignature } from './session.js';

/**
 * Whether requests to a model can be stacked along dim 0: every input and output must have a dynamic
 * first dimension. Silero VAD's state[2,N,128] (batch on dim 1) and scalar sr fail this, so it is served
 * one request at a time.
 */
export function isBatchable(signature: ModelSignature): boolean {
  const dynamicFirst = (shape: number[]) => shape.length > 0 && shape[0] === -1;
  return (
    signature.inputs.every((i) => dynamicFirst(i.shape)) &&
    signature.outputs.every((o) => dynamicFirst(o.shape))
  );
}

/** Requests with the same key agree on datatypes and every non-batch dimension, so they can be stacked. */
export function batchKey(inputs: readonly Tensor[]): string {
  let key = '';
  for (const t of inputs) key += `${t.datatype}:${t.shape.slice(1).join('x')}|`;
  return key;
}

function concatData(parts: TensorData[]): TensorData {
  const first = parts[0];
  if (first === undefined) throw new Error('nothing to concatenate');
  if (Array.isArray(first)) return parts.flatMap((p) => p as Uint8Array[]);
  const total = parts.reduce((n, p) => n + p.length, 0);
  const Ctor = first.constructor as new (length: number) => Exclude<TensorData, Uint8Array[]>;
  const out = new Ctor(total);
  let at = 0;
  for (const p of parts) {
    (out as { set(src: ArrayLike<unknown>, offset: number): void }).set(p as ArrayLike<unknown>, at);
    at += p.length;
  }
  return out;
}

/** Stacks several requests' inputs (same batch key, signature order) along dim 0. */
export function concatInputs(requests: readonly Tensor[][]): Tensor[] {
  const first = requests[0];
  if (first === undefined) throw new Error('nothing to concatenate');
  return first.map((t, i) => {
    const parts = requests.map((r) => r[i] as Tensor);
    const rows = parts.reduce((n, p) => n + (p.shape[0] ?? 0), 0);
    return { ...t, shape: [rows, ...t.shape.slice(1)], data: concatData(parts.map((p) => p.data)) };
  });
}

/**
 * Splits batched outputs back into per-request outputs by row counts (views, not copies). Returns
 * undefined when some output does not have one row per input row, so the caller can run requests alone.
 */
export function splitOutputs(outputs: readonly Tensor[], rows: readonly number[]): Tensor[][] | undefined {
  const total = rows.reduce((n, r) => n + r, 0);
  if (outputs.some((o) => o.shape[0] !== total)) return undefined;
  const result: Tensor[][] = rows.map(() => []);
  for (const o of outputs) {
    const rowSize = total === 0 ? 0 : o.data.length / total;
    let at = 0;
    rows.forEach((r, k) => {
      const data = Array.isArray(o.data)
        ? o.data.slice(at * rowSize, (at + r) * rowSize)
        : o.data.subarray(at * rowSize, (at + r) * rowSize);
      result[k]?.push({ ...o, shape: [r, ...o.shape.slice(1)], data });
      at += r;
    });
  }
  return result;
}
