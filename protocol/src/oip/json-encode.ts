import type { Tensor } from './datatypes.js';
import { asciiInto, textToBytes } from './text.js';

/** Tensor data that JSON prints number by number exactly as `JSON.stringify(Array.from(data))` does. */
export type NumericData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array;

/**
 * Elements per `JSON.stringify` call. Printing a whole output at once builds a number[] copy of it, one string
 * of its full text and then its UTF-8 copy: for a 640×640 FP32 map (8 MB of JSON) that takes 1.4–1.6× as
 * long as in chunks, whose arrays and strings stay small (bench/oip-json-encode.ts).
 */
const CHUNK = 4096;

/**
 * The tensor's data when it is worth printing straight from its typed array: numeric (not BOOL, FP16, 64-bit
 * or BYTES, which JSON prints through conversions) and longer than one chunk. Smaller arrays cost less through
 * one `JSON.stringify` of the whole document (~3 µs for a classifier's answer, against ~9 µs in pieces).
 */
export function largeNumericData(tensor: Tensor): NumericData | undefined {
  const { data, datatype } = tensor;
  if (Array.isArray(data) || datatype === 'BOOL' || datatype === 'FP16') return undefined;
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return undefined;
  return data.length > CHUNK ? data : undefined;
}

/** `JSON.stringify(Array.from(data))` in pieces whose concatenation is exactly that text (ASCII only). */
function dataTexts(data: NumericData): string[] {
  if (data.length === 0) return ['[]'];
  const texts: string[] = [];
  const row: number[] = new Array(Math.min(CHUNK, data.length));
  for (let start = 0; start < data.length; start += CHUNK) {
    const count = Math.min(CHUNK, data.length - start);
    if (count < row.length) row.length = count;
    for (let i = 0; i < count; i++) row[i] = data[start + i] as number;
    const text = JSON.stringify(row);
    // Each chunk prints as "[a,…,z]": the first keeps its "[", the others start with ",", none keeps "]".
    texts.push(start === 0 ? text.slice(0, -1) : `,${text.slice(1, -1)}`);
  }
  texts.push(']');
  return texts;
}

/** A tensor on the wire whose `data` is still a typed array, printed by `jsonWithArrays`. */
type WireWithArray = { data?: unknown };

const isNumericData = (data: unknown): data is NumericData => ArrayBuffer.isView(data);

/**
 * `JSON.stringify({ ...fields, [key]: tensors })` as UTF-8, where a tensor's `data` may be a typed array
 * (from `largeNumericData`): printed in chunks into the document's bytes. `data` must be the last key of a
 * tensor and `key` must not need escaping; the bytes are the same as the one-shot document's.
 */
export function jsonWithArrays(
  fields: Record<string, unknown>,
  key: string,
  tensors: WireWithArray[],
): Uint8Array<ArrayBuffer> {
  const parts: (Uint8Array | string[])[] = [];
  let size = 0;
  const text = (t: string) => {
    const bytes = textToBytes(t);
    parts.push(bytes);
    size += bytes.byteLength;
  };
  const { [key]: _written, ...others } = fields;
  const head = JSON.stringify(others);
  text(head === '{}' ? `{"${key}":[` : `${head.slice(0, -1)},"${key}":[`);
  tensors.forEach((tensor, index) => {
    const separator = index === 0 ? '' : ',';
    const { data } = tensor;
    if (!isNumericData(data)) {
      text(separator + JSON.stringify(tensor));
      return;
    }
    text(`${separator}${JSON.stringify({ ...tensor, data: undefined }).slice(0, -1)},"data":`);
    const texts = dataTexts(data);
    parts.push(texts);
    for (const t of texts) size += t.length;
    text('}');
  });
  text(']}');
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    if (part instanceof Uint8Array) {
      out.set(part, at);
      at += part.byteLength;
    } else for (const t of part) at = asciiInto(t, out, at);
  }
  return out;
}
