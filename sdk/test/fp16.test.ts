import { describe, expect, it } from 'vitest';
import {
  datatypeOf,
  decodeResponse,
  encodeBinary,
  encodeJson,
  encodeNpy,
  fromHalfBits,
  parseNpy,
  toHalfBits,
} from '../src/index.js';

// 1, -2, 0.5, 65504 (the largest half), 2^-24 (the smallest subnormal) and -0 as IEEE half bits.
const VALUES = [1, -2, 0.5, 65504, 2 ** -24, -0];
const BITS = [0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x8000];

/** A binary OIP answer: the JSON header, then each output's bytes. */
function binaryAnswer(outputs: object[], chunks: Uint8Array[]) {
  const header = new TextEncoder().encode(JSON.stringify({ model_name: 'm', outputs }));
  const body = new Uint8Array([...header, ...chunks.flatMap((c) => [...c])]);
  return { body, headerLength: String(header.byteLength) };
}

const bytesOf = (a: Uint16Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

describe('FP16 tensors, as raw half bits in a Uint16Array', () => {
  it('converts numbers to half bits and back as the agent does', () => {
    expect(VALUES.map(toHalfBits)).toEqual(BITS);
    expect(BITS.map(fromHalfBits)).toEqual(VALUES);
    expect(toHalfBits(1e6)).toBe(0x7c00);
    expect(Number.isNaN(fromHalfBits(toHalfBits(Number.NaN)))).toBe(true);
    // A Uint16Array on its own is still UINT16: FP16 is said, never guessed.
    expect(datatypeOf(new Uint16Array(1))).toBe('UINT16');
  });

  it("reads NumPy's float16 .npy files as FP16, and writes them back as '<f2'", () => {
    const data = Uint16Array.from(BITS);
    const written = encodeNpy({ name: 'x', datatype: 'FP16', shape: [2, 3], data });
    expect(new TextDecoder().decode(written.subarray(10, 60))).toContain("'descr': '<f2'");
    const read = parseNpy(written, 'x');
    expect(read).toMatchObject({ name: 'x', datatype: 'FP16', shape: [2, 3] });
    expect(read.data).toBeInstanceOf(Uint16Array);
    expect([...(read.data as Uint16Array)]).toEqual(BITS);
    // Plain numbers are values, stored as their half bits.
    const fromNumbers = parseNpy(encodeNpy({ name: 'y', datatype: 'FP16', shape: [6], data: VALUES }), 'y');
    expect([...(fromNumbers.data as Uint16Array)]).toEqual(BITS);
  });

  it('sends FP16 inputs as half bits in binary form and as values in JSON', () => {
    for (const data of [Uint16Array.from(BITS), VALUES]) {
      const tensor = { name: 'x', datatype: 'FP16' as const, shape: [6], data };
      const { body, headers } = encodeBinary([tensor]);
      const headerLength = Number(headers['inference-header-content-length']);
      const header = JSON.parse(new TextDecoder().decode(body.subarray(0, headerLength)));
      expect(header.inputs[0]).toMatchObject({ datatype: 'FP16', parameters: { binary_data_size: 12 } });
      expect([...new Uint16Array(body.slice(headerLength).buffer)]).toEqual(BITS);
      // JSON has no -0: it is written as 0.
      expect(JSON.parse(encodeJson([tensor]).body).inputs[0].data).toEqual([...VALUES.slice(0, -1), 0]);
    }
  });

  it('decodes a binary FP16 output to its values', () => {
    const { body, headerLength } = binaryAnswer(
      [
        { name: 'half', datatype: 'FP16', shape: [6], parameters: { binary_data_size: 12 } },
        { name: 'single', datatype: 'FP32', shape: [1], parameters: { binary_data_size: 4 } },
      ],
      [bytesOf(Uint16Array.from(BITS)), new Uint8Array(Float32Array.of(2.5).buffer)],
    );
    const answer = decodeResponse(body, headerLength);
    expect(answer.outputs).toEqual([
      { name: 'half', datatype: 'FP16', shape: [6], data: VALUES },
      { name: 'single', datatype: 'FP32', shape: [1], data: [2.5] },
    ]);
  });
});
