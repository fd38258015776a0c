import { describe, expect, it } from 'vitest';
import { fromHalfBits, toHalfBits } from './datatypes.js';
import { OipCodecError, tensorFromBytes, tensorFromJson, tensorToJson } from './tensor.js';

function jsonError(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    if (err instanceof OipCodecError) return err.message;
    throw err;
  }
  throw new Error('no error');
}

describe('OIP JSON tensors', () => {
  it('accepts nested data and flattens it row-major', () => {
    const t = tensorFromJson(
      'x',
      'FP32',
      [2, 2],
      [
        [1, 2],
        [3, 4],
      ],
    );
    expect(t.data).toEqual(new Float32Array([1, 2, 3, 4]));
  });

  it('converts every datatype both ways', () => {
    expect(tensorToJson(tensorFromJson('b', 'BOOL', [2], [true, false]))).toEqual([true, false]);
    expect(tensorToJson(tensorFromJson('i', 'INT64', [2], [-3, 2 ** 40]))).toEqual([-3, 2 ** 40]);
    expect(tensorToJson(tensorFromJson('u', 'UINT16', [1], [65535]))).toEqual([65535]);
    expect(tensorToJson(tensorFromJson('h', 'FP16', [3], [1.5, -0.25, 65504]))).toEqual([1.5, -0.25, 65504]);
    expect(tensorToJson(tensorFromJson('s', 'BYTES', [1], ['naïve ✓']))).toEqual(['naïve ✓']);
  });

  it('rejects an element count that disagrees with the shape', () => {
    expect(jsonError(() => tensorFromJson('x', 'FP32', [2, 3], [1, 2, 3]))).toBe(
      "input 'x': shape [2,3] needs 6 elements but data holds 3",
    );
  });

  it('rejects elements of the wrong kind, naming the index', () => {
    expect(jsonError(() => tensorFromJson('x', 'INT32', [2], [1, 1.5]))).toBe(
      "input 'x': element 1 is 1.5, not a valid INT32",
    );
    expect(jsonError(() => tensorFromJson('x', 'FP32', [1], ['1']))).toBe(
      'input \'x\': element 0 is "1", not a valid FP32',
    );
    expect(jsonError(() => tensorFromJson('x', 'BOOL', [1], [1]))).toMatch(/not a valid BOOL/);
  });

  it('rounds FP16 to nearest even and keeps subnormals', () => {
    expect(fromHalfBits(toHalfBits(1 + 2 ** -11))).toBe(1);
    expect(fromHalfBits(toHalfBits(2 ** -24))).toBe(2 ** -24);
    expect(fromHalfBits(toHalfBits(1e6))).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('OIP binary tensors', () => {
  it('copies bytes that sit at an unaligned offset, even inside a Node Buffer (whose slice is a view)', () => {
    // Node's Buffer, without Node types in this package: slice() gives a view, not a copy.
    class BufferLike extends Uint8Array {
      override slice(start?: number, end?: number) {
        return this.subarray(start, end) as unknown as Uint8Array<ArrayBuffer>;
      }
    }
    const values = Float32Array.from([1.5, -2, 3.25]);
    const buffer = new BufferLike(1 + values.byteLength);
    buffer.set(new Uint8Array(values.buffer), 1);
    const tensor = tensorFromBytes('x', 'FP32', [3], buffer.subarray(1));
    expect(Array.from(tensor.data as Float32Array)).toEqual([1.5, -2, 3.25]);
    const aligned = new Uint8Array(values.buffer);
    expect((tensorFromBytes('x', 'FP32', [3], aligned).data as Float32Array).buffer).toBe(values.buffer);
  });
});
