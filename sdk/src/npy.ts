import { ARRAY_TYPES, type Datatype, type Tensor, tensorBytes } from './tensors.js';

const DESCR: Record<string, Datatype> = {
  '|b1': 'BOOL',
  '|u1': 'UINT8',
  '<u2': 'UINT16',
  '<u4': 'UINT32',
  '<u8': 'UINT64',
  '|i1': 'INT8',
  '<i2': 'INT16',
  '<i4': 'INT32',
  '<i8': 'INT64',
  // NumPy's float16: the data is half bits, read into a Uint16Array as FP16 tensors hold them.
  '<f2': 'FP16',
  '<f4': 'FP32',
  '<f8': 'FP64',
};

/**
 * Reads a NumPy .npy file (format 1.0–3.0, little-endian, C order) into a tensor named `name`; float16 reads
 * as FP16, its data the half bits in a Uint16Array.
 */
export function parseNpy(bytes: Uint8Array, name: string): Tensor {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.byteLength < 10 || magic.some((b, i) => bytes[i] !== b))
    throw new Error('Not a .npy file (bad magic)');
  const major = bytes[6] ?? 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(headerStart, headerStart + headerLength));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined)
    throw new Error(`Unreadable .npy header: ${header.trim()}`);
  if (fortran === 'True') throw new Error('Fortran-ordered .npy arrays are not supported; save with C order');
  const datatype = DESCR[descr.replace(/^=/, '<')];
  if (!datatype) throw new Error(`Unsupported .npy dtype ${descr}`);
  const shape = shapeText
    .split(',')
    .map((d) => d.trim())
    .filter((d) => d !== '')
    .map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const type = ARRAY_TYPES[datatype];
  const start = headerStart + headerLength;
  const needed = count * type.BYTES_PER_ELEMENT;
  if (bytes.byteLength - start < needed)
    throw new Error(`The .npy data is shorter than its shape ${shapeText} needs`);
  // Copied so the typed array starts aligned whatever the header length was.
  const data = new type(bytes.slice(start, start + needed).buffer as ArrayBuffer);
  return { name, datatype, shape, data };
}

/** Writes a tensor as a .npy file (format 1.0). */
export function encodeNpy(tensor: Tensor): Uint8Array {
  const descr = Object.entries(DESCR).find(([, d]) => d === tensor.datatype)?.[0] ?? '<f4';
  const shape = tensor.shape.length === 1 ? `(${tensor.shape[0]},)` : `(${tensor.shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  header += `${' '.repeat(63 - ((10 + header.length) % 64))}\n`;
  // Plain numbers become the datatype's bytes (FP16: half bits; 64-bit integers: bigints).
  const data = tensorBytes(tensor);
  const headerBytes = new TextEncoder().encode(header);
  const out = new Uint8Array(10 + headerBytes.byteLength + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, headerBytes.byteLength, true);
  out.set(headerBytes, 10);
  out.set(data, 10 + headerBytes.byteLength);
  return out;
}
