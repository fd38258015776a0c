/**
 * OIP v2 datatypes the SDK encodes from typed arrays. FP16 data is a Uint16Array of IEEE half bits (as the
 * agent and onnxruntime hold it; see toHalfBits) or plain numbers, which are the values themselves.
 */
export type Datatype =
  | 'BOOL'
  | 'UINT8'
  | 'UINT16'
  | 'UINT32'
  | 'UINT64'
  | 'INT8'
  | 'INT16'
  | 'INT32'
  | 'INT64'
  | 'FP16'
  | 'FP32'
  | 'FP64';

export type TypedArray =
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Float32Array
  | Float64Array;

/** A tensor: flat row-major data with its shape. */
export interface Tensor {
  name: string;
  datatype: Datatype;
  shape: number[];
  data: TypedArray | number[];
}

/**
 * A BYTES input: one element per string or Uint8Array, flat and row-major. Strings are sent as their UTF-8;
 * in JSON (which carries BYTES as text) a Uint8Array element must be valid UTF-8, in binary form it may be
 * any bytes.
 */
export interface BytesTensor {
  name: string;
  datatype: 'BYTES';
  shape: number[];
  data: (string | Uint8Array)[];
}

type ArrayType = {
  new (buffer: ArrayBuffer, offset?: number, length?: number): TypedArray;
  BYTES_PER_ELEMENT: number;
};

export const ARRAY_TYPES: Record<Datatype, ArrayType> = {
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
};

/** The datatype of a typed array (Uint8Array reads as UINT8, Uint16Array as UINT16). */
export function datatypeOf(data: TypedArray): Datatype {
  for (const [datatype, type] of Object.entries(ARRAY_TYPES) as [Datatype, ArrayType][]) {
    if (datatype !== 'BOOL' && datatype !== 'FP16' && data instanceof (type as unknown as typeof Uint8Array))
      return datatype;
  }
  throw new TypeError('Unsupported typed array');
}

/** `data` viewed as little-endian bytes (every platform JS runs on is little-endian). */
export function tensorBytes(tensor: Tensor): Uint8Array {
  const array = Array.isArray(tensor.data)
    ? tensor.datatype === 'FP16'
      ? Uint16Array.from(tensor.data, toHalfBits)
      : ARRAY_TYPES[tensor.datatype] === BigInt64Array || ARRAY_TYPES[tensor.datatype] === BigUint64Array
        ? new (ARRAY_TYPES[tensor.datatype] as unknown as BigInt64ArrayConstructor)(
            tensor.data.map((v) => BigInt(v)),
          )
        : new (ARRAY_TYPES[tensor.datatype] as unknown as Float64ArrayConstructor)(tensor.data)
    : tensor.data;
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

/** The tensor's values as plain numbers (64-bit integers beyond 2^53 lose precision; FP16 bits decoded). */
export function tensorValues(tensor: Tensor): number[] {
  if (Array.isArray(tensor.data)) return tensor.data;
  if (tensor.datatype === 'FP16') return Array.from(tensor.data as ArrayLike<number>, fromHalfBits);
  if (tensor.data instanceof BigInt64Array || tensor.data instanceof BigUint64Array)
    return Array.from(tensor.data, Number);
  return Array.from(tensor.data as ArrayLike<number>);
}

// The same conversions as @meridian/protocol's (the agent's), copied: the SDK takes from that package only
// modules that import nothing (model-files), which its build bundles; these sit beside zod schemas there.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** A number as IEEE 754 half-precision bits, rounded to nearest even: FP16 tensors hold these. */
export function toHalfBits(value: number): number {
  f32[0] = value;
  const x = u32[0] ?? 0;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rest > mid || (rest === mid && half & 1) ? 1 : 0));
  }
  const half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && half & 1) ? 1 : 0));
}

/** IEEE 754 half-precision bits as a number. */
export function fromHalfBits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}
