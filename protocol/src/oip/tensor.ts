import { badElement, countMismatch, OipCodecError } from './codec-error.js';
import {
  BIGINT_RANGE,
  ELEMENT_BYTES,
  elementCount,
  fromHalfBits,
  INTEGER_RANGE,
  type OipDatatype,
  type Tensor,
  type TensorData,
  toHalfBits,
} from './datatypes.js';
import { decodeUtf8, encodeUtf8 } from './utf8.js';

export { OipCodecError } from './codec-error.js';

type FixedDatatype = Exclude<OipDatatype, 'BYTES'>;
type NumericArray = Exclude<TensorData, Uint8Array[]>;
type ArrayCtor = { new (buffer: ArrayBufferLike, byteOffset: number, length: number): NumericArray } & {
  new (length: number): NumericArray;
};

const CTORS: Record<FixedDatatype, ArrayCtor> = {
  BOOL: Uint8Array,
  UINT8: Uint8Array,
  UINT16: Uint16Array,
  UINT32: Uint32Array,
  UINT64: BigUint64Array,
  INT8: Int8Array,
  INT16: Int16Array,
  INT32: Int32Array,
  INT64: BigInt64Array,
  FP16: Uint16Array,
  FP32: Float32Array,
  FP64: Float64Array,
} as Record<FixedDatatype, ArrayCtor>;

// The wire is little-endian; on the (theoretical) big-endian host every multi-byte element is swapped.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function flatten(data: unknown[]): unknown[] {
  if (!data.some(Array.isArray)) return data;
  const flat: unknown[] = [];
  const walk = (items: unknown[]) => {
    for (const item of items) Array.isArray(item) ? walk(item) : flat.push(item);
  };
  walk(data);
  return flat;
}

function bad(name: string, index: number, datatype: OipDatatype, value: unknown): never {
  throw badElement(name, index, datatype, JSON.stringify(value) ?? typeof value);
}

/**
 * Builds a tensor from OIP JSON `data` already parsed (flat or nested), checking each element (its kind,
 * and its range for the integers) and the element count. Bodies are decoded from their bytes instead
 * (json-data.ts), with the same checks and messages; this serves values that are already JS arrays.
 */
export function tensorFromJson(
  name: string,
  datatype: OipDatatype,
  shape: number[],
  data: unknown[],
): Tensor {
  const flat = flatten(data);
  const count = elementCount(shape);
  if (flat.length !== count) throw countMismatch(name, shape, count, flat.length);
  if (datatype === 'BYTES') {
    const out = flat.map((v, i) => (typeof v === 'string' ? encodeUtf8(v) : bad(name, i, datatype, v)));
    return { name, datatype, shape, data: out };
  }
  const out = new CTORS[datatype](count);
  if (out instanceof BigInt64Array || out instanceof BigUint64Array) {
    const [low, high] = BIGINT_RANGE[datatype === 'UINT64' ? 'UINT64' : 'INT64'];
    for (let i = 0; i < count; i++) {
      const v = flat[i];
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || BigInt(v) < low || BigInt(v) > high)
        bad(name, i, datatype, v);
      out[i] = BigInt(v);
    }
  } else if (datatype === 'BOOL') {
    for (let i = 0; i < count; i++) {
      const v = flat[i];
      if (typeof v !== 'boolean') bad(name, i, datatype, v);
      out[i] = v ? 1 : 0;
    }
  } else {
    const [low, high] = INTEGER_RANGE[datatype] ?? [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY];
    const integer = datatype !== 'FP32' && datatype !== 'FP64' && datatype !== 'FP16';
    for (let i = 0; i < count; i++) {
      const v = flat[i];
      if (typeof v !== 'number' || (integer && !(Number.isInteger(v) && v >= low && v <= high)))
        bad(name, i, datatype, v);
      out[i] = datatype === 'FP16' ? toHalfBits(v) : v;
    }
  }
  return { name, datatype, shape, data: out };
}

/** OIP JSON `data` of a tensor, flat and row-major. */
export function tensorToJson(tensor: Tensor): (number | boolean | string)[] {
  const { data, datatype } = tensor;
  if (Array.isArray(data)) return data.map((b) => decodeUtf8(b));
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return Array.from(data, Number);
  if (datatype === 'BOOL') return Array.from(data, (v) => v !== 0);
  if (datatype === 'FP16') return Array.from(data, fromHalfBits);
  return Array.from(data);
}

/** Views (or, when unaligned, copies) raw little-endian bytes as a tensor; the size must match exactly. */
export function tensorFromBytes(
  name: string,
  datatype: OipDatatype,
  shape: number[],
  bytes: Uint8Array,
): Tensor {
  const count = elementCount(shape);
  if (datatype === 'BYTES') return { name, datatype, shape, data: splitBytesElements(name, count, bytes) };
  const size = ELEMENT_BYTES[datatype];
  if (bytes.byteLength !== count * size)
    throw new OipCodecError(
      `input '${name}': shape [${shape.join(',')}] of ${datatype} needs ${count * size} bytes but binary_data_size is ${bytes.byteLength}`,
    );
  const Ctor = CTORS[datatype];
  // new Uint8Array(view) always copies; a Node Buffer's slice() would return another unaligned view.
  const aligned = bytes.byteOffset % size === 0 ? bytes : new Uint8Array(bytes);
  const data = new Ctor(aligned.buffer, aligned.byteOffset, count);
  if (!LITTLE_ENDIAN && size > 1)
    swapInPlace(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), size);
  return { name, datatype, shape, data };
}

function splitBytesElements(name: string, count: number, bytes: Uint8Array): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Uint8Array[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + 4 > bytes.byteLength)
      throw new OipCodecError(`input '${name}': BYTES element ${i} is truncated`);
    const len = view.getUint32(at, true);
    at += 4;
    if (at + len > bytes.byteLength)
      throw new OipCodecError(`input '${name}': BYTES element ${i} is truncated`);
    out.push(bytes.subarray(at, at + len));
    at += len;
  }
  if (at !== bytes.byteLength)
    throw new OipCodecError(
      `input '${name}': ${bytes.byteLength - at} bytes left over after ${count} BYTES elements`,
    );
  return out;
}

/** The binary-extension bytes of a tensor (a view when the host is little-endian). */
export function tensorToBytes(tensor: Tensor): Uint8Array {
  const { data } = tensor;
  if (!Array.isArray(data)) {
    const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (LITTLE_ENDIAN || data.BYTES_PER_ELEMENT === 1) return view;
    const copy = view.slice();
    swapInPlace(copy, data.BYTES_PER_ELEMENT);
    return copy;
  }
  const total = data.reduce((n, b) => n + 4 + b.byteLength, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const b of data) {
    view.setUint32(at, b.byteLength, true);
    out.set(b, at + 4);
    at += 4 + b.byteLength;
  }
  return out;
}

function swapInPlace(bytes: Uint8Array, size: number): void {
  for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse();
}
