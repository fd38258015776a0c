/** OIP v2 datatypes the SDK encodes from typed arrays. */
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
  FP32: Float32Array,
  FP64: Float64Array,
};

/** The datatype of a typed array (Uint8Array reads as UINT8). */
export function datatypeOf(data: TypedArray): Datatype {
  for (const [datatype, type] of Object.entries(ARRAY_TYPES) as [Datatype, ArrayType][]) {
    if (datatype !== 'BOOL' && data instanceof (type as unknown as typeof Uint8Array)) return datatype;
  }
  throw new TypeError('Unsupported typed array');
}

/** `data` viewed as little-endian bytes (every platform JS runs on is little-endian). */
export function tensorBytes(tensor: Tensor): Uint8Array {
  const array = Array.isArray(tensor.data)
    ? ARRAY_TYPES[tensor.datatype] === BigInt64Array || ARRAY_TYPES[tensor.datatype] === BigUint64Array
      ? new (ARRAY_TYPES[tensor.datatype] as unknown as BigInt64ArrayConstructor)(
          tensor.data.map((v) => BigInt(v)),
        )
      : new (ARRAY_TYPES[tensor.datatype] as unknown as Float64ArrayConstructor)(tensor.data)
    : tensor.data;
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

/** The tensor's values as plain numbers (64-bit integers beyond 2^53 lose precision). */
export function tensorValues(tensor: Tensor): number[] {
  if (Array.isArray(tensor.data)) return tensor.data;
  if (tensor.data instanceof BigInt64Array || tensor.data instanceof BigUint64Array)
    return Array.from(tensor.data, Number);
  return Array.from(tensor.data as ArrayLike<number>);
}
