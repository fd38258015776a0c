import { describe, expect, it } from 'vitest';
import {
  type BytesTensor,
  decodeBytesElements,
  decodeResponse,
  encodeBinary,
  encodeBytesElements,
  encodeJson,
  type OipOutput,
  TensorCodecError,
} from '../src/index.js';

const utf8 = (s: string) => new TextEncoder().encode(s);

/** The binary form written out by hand: a 4-byte little-endian length, then the bytes, per element. */
const HI_EMPTY_E_ACUTE = new Uint8Array([
  ...[2, 0, 0, 0, 0x68, 0x69], // "hi"
  ...[0, 0, 0, 0], // ""
  ...[2, 0, 0, 0, 0xc3, 0xa9], // "é"
]);

/** A binary OIP answer: the JSON header, then each output's bytes. */
function binaryAnswer(outputs: object[], chunks: Uint8Array[]) {
  const header = utf8(JSON.stringify({ model_name: 'm', outputs }));
  const body = new Uint8Array([...header, ...chunks.flatMap((c) => [...c])]);
  return { body, headerLength: String(header.byteLength) };
}

/** A binary answer with one BYTES output 'label' of `shape` whose bytes are `chunk`. */
function bytesAnswer(chunk: Uint8Array, shape = [3]) {
  return binaryAnswer(
    [{ name: 'label', datatype: 'BYTES', shape, parameters: { binary_data_size: chunk.byteLength } }],
    [chunk],
  );
}

function codecError(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(TensorCodecError);
    return (err as Error).message;
  }
  throw new Error('no error');
}

describe('BYTES elements in binary form', () => {
  it('encodes strings as UTF-8 and Uint8Arrays as they are, each after its length', () => {
    expect(encodeBytesElements(['hi', new Uint8Array(0), 'é'])).toEqual(HI_EMPTY_E_ACUTE);
    expect(encodeBytesElements([])).toEqual(new Uint8Array(0));
    // Any bytes, not only UTF-8.
    expect(encodeBytesElements([new Uint8Array([0, 255])])).toEqual(new Uint8Array([2, 0, 0, 0, 0, 255]));
  });

  it('decodes each element as a view of its bytes', () => {
    const elements = decodeBytesElements(HI_EMPTY_E_ACUTE, 3);
    expect(elements).toEqual([utf8('hi'), new Uint8Array(0), utf8('é')]);
    expect(elements[0]?.buffer).toBe(HI_EMPTY_E_ACUTE.buffer);
    expect(decodeBytesElements(new Uint8Array(0), 0)).toEqual([]);
    // A length of 256 and more reads little-endian.
    const long = new Uint8Array(300).fill(0x61);
    expect(decodeBytesElements(encodeBytesElements([long]), 1)).toEqual([long]);
  });

  it('refuses a length cut short', () => {
    expect(codecError(() => decodeBytesElements(HI_EMPTY_E_ACUTE.subarray(0, 8), 2, "Output 'label'"))).toBe(
      "Output 'label': BYTES element 1 of 2 is truncated: its 4-byte length needs 4 bytes, 2 left",
    );
    expect(codecError(() => decodeBytesElements(new Uint8Array(0), 1))).toBe(
      'BYTES tensor: BYTES element 0 of 1 is truncated: its 4-byte length needs 4 bytes, 0 left',
    );
  });

  it('refuses a length past the end, up to the largest a 4-byte length says', () => {
    expect(codecError(() => decodeBytesElements(HI_EMPTY_E_ACUTE.subarray(0, 15), 3))).toBe(
      'BYTES tensor: BYTES element 2 of 3 says 2 bytes, past the end (1 left)',
    );
    const huge = new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
    expect(codecError(() => decodeBytesElements(huge, 1))).toBe(
      'BYTES tensor: BYTES element 0 of 1 says 4294967295 bytes, past the end (3 left)',
    );
  });

  it('refuses bytes left after the last element, and too few elements for the count', () => {
    expect(codecError(() => decodeBytesElements(HI_EMPTY_E_ACUTE, 2))).toBe(
      'BYTES tensor: 6 bytes left over after its 2 BYTES elements',
    );
    // A count far beyond the bytes stops at the first element missing, not after `count` steps.
    expect(codecError(() => decodeBytesElements(HI_EMPTY_E_ACUTE, 2 ** 52))).toBe(
      `BYTES tensor: BYTES element 3 of ${2 ** 52} is truncated: its 4-byte length needs 4 bytes, 0 left`,
    );
  });

  it('refuses an element that is neither a string nor a Uint8Array', () => {
    const bad = ['ok', 7] as unknown as string[];
    expect(codecError(() => encodeBytesElements(bad, "Input 'text'"))).toBe(
      "Input 'text': BYTES element 1 is number, not a string or Uint8Array",
    );
  });
});

describe('BYTES outputs', () => {
  it('decode from binary form to strings, and the outputs after them still line up', () => {
    const { body, headerLength } = binaryAnswer(
      [
        { name: 'label', datatype: 'BYTES', shape: [1, 3], parameters: { binary_data_size: 16 } },
        { name: 'score', datatype: 'FP32', shape: [1], parameters: { binary_data_size: 4 } },
      ],
      [HI_EMPTY_E_ACUTE, new Uint8Array(Float32Array.of(0.5).buffer)],
    );
    const outputs: OipOutput[] = decodeResponse(body, headerLength).outputs;
    expect(outputs).toEqual([
      { name: 'label', datatype: 'BYTES', shape: [1, 3], data: ['hi', '', 'é'] },
      { name: 'score', datatype: 'FP32', shape: [1], data: [0.5] },
    ]);
  });

  it('have the same shape from JSON as from binary form', () => {
    const json = utf8(
      JSON.stringify({ outputs: [{ name: 'label', datatype: 'BYTES', shape: [3], data: ['hi', '', 'é'] }] }),
    );
    const { body, headerLength } = bytesAnswer(HI_EMPTY_E_ACUTE);
    expect(decodeResponse(json, null).outputs).toEqual(decodeResponse(body, headerLength).outputs);
  });

  it('decode malformed UTF-8 to U+FFFD, as the agent writes it in JSON', () => {
    const { body, headerLength } = bytesAnswer(new Uint8Array([2, 0, 0, 0, 0x61, 0xff]), [1]);
    expect(decodeResponse(body, headerLength).outputs[0]?.data).toEqual(['a\ufffd']);
  });

  it('refuse a truncated or overlong element with TensorCodecError naming the output', () => {
    const cut = bytesAnswer(HI_EMPTY_E_ACUTE.subarray(0, 13));
    expect(codecError(() => decodeResponse(cut.body, cut.headerLength))).toBe(
      "Output 'label': BYTES element 2 of 3 is truncated: its 4-byte length needs 4 bytes, 3 left",
    );
    const long = bytesAnswer(new Uint8Array([9, 0, 0, 0, 0x61]), [1]);
    expect(codecError(() => decodeResponse(long.body, long.headerLength))).toBe(
      "Output 'label': BYTES element 0 of 1 says 9 bytes, past the end (1 left)",
    );
    const short = bytesAnswer(HI_EMPTY_E_ACUTE, [4]);
    expect(codecError(() => decodeResponse(short.body, short.headerLength))).toMatch(
      /^Output 'label': BYTES element 3 of 4 is truncated/,
    );
    const bent = bytesAnswer(HI_EMPTY_E_ACUTE, [-3]);
    expect(codecError(() => decodeResponse(bent.body, bent.headerLength))).toBe(
      "Output 'label': shape [-3] has a dimension that is not a count",
    );
  });

  it('refuse a binary_data_size or header length past the end of the answer', () => {
    const { body, headerLength } = bytesAnswer(HI_EMPTY_E_ACUTE);
    expect(codecError(() => decodeResponse(body.subarray(0, body.byteLength - 4), headerLength))).toBe(
      "Output 'label': binary_data_size 16 runs past the end of the answer (12 bytes left)",
    );
    expect(codecError(() => decodeResponse(body, String(body.byteLength + 1)))).toMatch(
      /^The answer's inference-header-content-length \d+ is not a length within its \d+ bytes$/,
    );
    // A fixed-size output cut short is refused too, where it used to throw a RangeError.
    const fp32 = binaryAnswer(
      [{ name: 'x', datatype: 'FP32', shape: [2], parameters: { binary_data_size: 6 } }],
      [new Uint8Array(6)],
    );
    expect(codecError(() => decodeResponse(fp32.body, fp32.headerLength))).toBe(
      "Output 'x': binary_data_size 6 is not a whole number of FP32 elements",
    );
  });
});

describe('BYTES inputs', () => {
  const text: BytesTensor = { name: 'text', datatype: 'BYTES', shape: [3], data: ['hi', '', utf8('é')] };

  it('go in binary form as a length and the bytes per element, beside numeric inputs', () => {
    const { body, headers } = encodeBinary([
      text,
      { name: 'x', datatype: 'FP32', shape: [1], data: Float32Array.of(2) },
    ]);
    const headerLength = Number(headers['inference-header-content-length']);
    const header = JSON.parse(new TextDecoder().decode(body.subarray(0, headerLength)));
    expect(header.inputs).toEqual([
      { name: 'text', datatype: 'BYTES', shape: [3], parameters: { binary_data_size: 16 } },
      { name: 'x', datatype: 'FP32', shape: [1], parameters: { binary_data_size: 4 } },
    ]);
    expect(body.subarray(headerLength, headerLength + 16)).toEqual(HI_EMPTY_E_ACUTE);
    expect(body.subarray(headerLength + 16)).toEqual(new Uint8Array(Float32Array.of(2).buffer));
  });

  it('go in JSON as strings; bytes that are not UTF-8 are refused there with a pointer to binary form', () => {
    expect(JSON.parse(encodeJson([text]).body).inputs[0]).toEqual({
      name: 'text',
      datatype: 'BYTES',
      shape: [3],
      data: ['hi', '', 'é'],
    });
    const raw: BytesTensor = { name: 'img', datatype: 'BYTES', shape: [1], data: [new Uint8Array([0xff])] };
    expect(codecError(() => encodeJson([raw]))).toBe(
      "Input 'img': BYTES element 0 is not UTF-8, which JSON cannot carry; send it with binary: true",
    );
    // Binary form carries them.
    expect(encodeBinary([raw]).body.slice(-5)).toEqual(new Uint8Array([1, 0, 0, 0, 0xff]));
  });
});
