// BYTES tensors in OIP's binary extension (as KServe and Triton write them): each element is a 4-byte
// little-endian length, then that many bytes. The agent's codec is @meridian/protocol's; this is the SDK's
// own copy, since the SDK depends on no other package.

/** A BYTES tensor that cannot be encoded or decoded: a truncated element, a length past the end, leftovers. */
export class TensorCodecError extends Error {
  override name = 'TensorCodecError';
}

const LENGTH_BYTES = 4;
const MAX_ELEMENT = 0xffff_ffff;

/**
 * The elements of a BYTES tensor in binary form: each one's 4-byte little-endian length, then its bytes
 * (a string's UTF-8). `what` names the tensor in errors ("Input 'text'").
 */
export function encodeBytesElements(
  elements: readonly (string | Uint8Array)[],
  what = 'BYTES tensor',
): Uint8Array {
  const encoder = new TextEncoder();
  const parts = elements.map((element, i) => {
    if (typeof element === 'string') return encoder.encode(element);
    if (element instanceof Uint8Array) return element;
    throw new TensorCodecError(
      `${what}: BYTES element ${i} is ${element === null ? 'null' : typeof element}, not a string or Uint8Array`,
    );
  });
  const total = parts.reduce((n, part) => n + LENGTH_BYTES + part.byteLength, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let at = 0;
  parts.forEach((part, i) => {
    if (part.byteLength > MAX_ELEMENT)
      throw new TensorCodecError(
        `${what}: BYTES element ${i} is over 4 GiB, which a 4-byte length cannot say`,
      );
    view.setUint32(at, part.byteLength, true);
    out.set(part, at + LENGTH_BYTES);
    at += LENGTH_BYTES + part.byteLength;
  });
  return out;
}

/**
 * Splits the binary form of a BYTES tensor into its `count` elements (views into `bytes`, not copies). Throws
 * TensorCodecError when an element's length or bytes run past the end, or bytes are left after the last one;
 * every step consumes at least 4 bytes or throws, so no `count` makes it loop long. `what` names the tensor
 * in errors ("Output 'label'").
 */
export function decodeBytesElements(bytes: Uint8Array, count: number, what = 'BYTES tensor'): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Uint8Array[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    const left = bytes.byteLength - at;
    if (left < LENGTH_BYTES)
      throw new TensorCodecError(
        `${what}: BYTES element ${i} of ${count} is truncated: its 4-byte length needs 4 bytes, ${left} left`,
      );
    const length = view.getUint32(at, true);
    at += LENGTH_BYTES;
    if (length > left - LENGTH_BYTES)
      throw new TensorCodecError(
        `${what}: BYTES element ${i} of ${count} says ${length} bytes, past the end (${left - LENGTH_BYTES} left)`,
      );
    out.push(bytes.subarray(at, at + length));
    at += length;
  }
  if (at !== bytes.byteLength)
    throw new TensorCodecError(
      `${what}: ${bytes.byteLength - at} bytes left over after its ${count} BYTES elements`,
    );
  return out;
}

/** The number of elements a shape holds; TensorCodecError for a dimension that is not a whole number ≥ 0. */
export function elementCount(shape: readonly number[], what = 'tensor'): number {
  let count = 1;
  for (const dim of shape) {
    if (!Number.isSafeInteger(dim) || dim < 0)
      throw new TensorCodecError(`${what}: shape [${shape.join(',')}] has a dimension that is not a count`);
    count *= dim;
  }
  return count;
}
