import { describe, expect, it } from 'vitest';
import { decodeInferRequest, decodeInferResponse, encodeInferRequest } from './binary.js';
import type { OipDatatype, Tensor } from './datatypes.js';
import { OipCodecError } from './tensor.js';
import { bytesToText, textToBytes } from './text.js';

const utf8 = textToBytes;

/** A request body whose one input `x` has `data` written out as `dataText`, keys in the usual order. */
function body(datatype: OipDatatype, shape: number[], dataText: string): Uint8Array {
  return utf8(
    `{"inputs":[{"name":"x","shape":${JSON.stringify(shape)},"datatype":"${datatype}","data":${dataText}}]}`,
  );
}

function decodeOne(datatype: OipDatatype, shape: number[], dataText: string): Tensor['data'] {
  const { inputs } = decodeInferRequest(body(datatype, shape, dataText));
  const [x] = inputs;
  if (!x) throw new Error('no input');
  return x.data;
}

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    if (err instanceof OipCodecError) return err.message;
    throw err;
  }
  throw new Error('accepted');
}

// A small deterministic PRNG (mulberry32), so a failure names a case that comes back.
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Number texts of every shape a client prints: short, 17 digits, exponents, midpoints between floats. */
function numberTexts(count: number, seed: number): string[] {
  const next = random(seed);
  const f32 = new Float32Array(2);
  const u32 = new Uint32Array(f32.buffer);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const magnitude = 10 ** Math.floor(next() * 90 - 45);
    const v = (next() - 0.5) * magnitude;
    f32[0] = v;
    u32[1] = (u32[0] ?? 0) + 1;
    const midpoint = ((f32[0] ?? 0) + (f32[1] ?? 0)) / 2;
    const forms = [
      String(v),
      v.toPrecision(17),
      v.toPrecision(1 + Math.floor(next() * 16)),
      v.toExponential(Math.floor(next() * 19)),
      String(Math.fround(v)),
      midpoint.toPrecision(17),
      midpoint.toPrecision(19),
      String(Math.round(v * 1000)),
    ];
    // toPrecision/toExponential may print "1.0e+5"-style texts JSON allows, or "Infinity" it does not.
    for (const text of forms) if (Number.isFinite(Number(text))) out.push(text);
  }
  return out;
}

describe('OIP JSON data decoded from the bytes', () => {
  it('gives every FP32 and FP64 element exactly as JSON.parse then a typed array would', () => {
    const texts = numberTexts(2000, 7);
    const dataText = `[${texts.join(',')}]`;
    const parsed = JSON.parse(dataText) as number[];
    expect(decodeOne('FP32', [texts.length], dataText)).toEqual(Float32Array.from(parsed));
    expect(decodeOne('FP64', [texts.length], dataText)).toEqual(Float64Array.from(parsed));
  });

  it('reads nested data row-major, at any depth, and whitespace anywhere', () => {
    expect(decodeOne('FP32', [2, 2], '[[1, 2], [3, 4]]')).toEqual(new Float32Array([1, 2, 3, 4]));
    expect(decodeOne('INT32', [2, 1, 2], ' [ [[1,2]] ,\n\t[[3 ,4]] ] ')).toEqual(
      new Int32Array([1, 2, 3, 4]),
    );
    expect(decodeOne('FP32', [0], '[]')).toEqual(new Float32Array(0));
    expect(decodeOne('FP32', [0, 3], '[[]]')).toEqual(new Float32Array(0));
  });

  it('reads exponents, negatives, negative zero and values beyond float32', () => {
    const data = decodeOne('FP32', [8], '[1e3, 1E-3, 2.5e+2, -1.5e-7, -0, 1e-45, 1e39, -0.0]');
    expect(Array.from(data as Float32Array)).toEqual(
      [1000, 0.001, 250, -1.5e-7, -0, 1e-45, Number.POSITIVE_INFINITY, -0].map(Math.fround),
    );
    expect(Object.is((data as Float32Array)[4], -0)).toBe(true);
    expect(decodeOne('FP64', [3], '[1e308, 5e-324, -123456789012345678901234567890]')).toEqual(
      new Float64Array([1e308, 5e-324, -Number('123456789012345678901234567890')]),
    );
  });

  it('refuses NaN and the infinities, which JSON does not have', () => {
    for (const token of ['NaN', 'Infinity', '-Infinity'])
      expect(refusal(() => decodeOne('FP32', [2], `[1, ${token}]`))).toMatch(
        /not valid JSON|element 1 is .*Infinity|element 1 is NaN/,
      );
  });

  it('takes BOOL as true and false only', () => {
    expect(decodeOne('BOOL', [3], '[true, false, true]')).toEqual(new Uint8Array([1, 0, 1]));
    expect(refusal(() => decodeOne('BOOL', [2], '[true, 1]'))).toBe(
      "input 'x': element 1 is 1, not a valid BOOL",
    );
    expect(refusal(() => decodeOne('BOOL', [1], '["true"]'))).toBe(
      'input \'x\': element 0 is "true", not a valid BOOL',
    );
  });

  it('reads INT64 exactly over its whole range, beyond 2^53 too, and refuses what does not fit', () => {
    expect(
      decodeOne('INT64', [5], '[9223372036854775807, -9223372036854775808, 9007199254740993, 1e3, -0]'),
    ).toEqual(new BigInt64Array([2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n + 1n, 1000n, 0n]));
    expect(decodeOne('UINT64', [1], '[18446744073709551615]')).toEqual(new BigUint64Array([2n ** 64n - 1n]));
    expect(refusal(() => decodeOne('INT64', [1], '[9223372036854775808]'))).toBe(
      "input 'x': element 0 is 9223372036854775808, not a valid INT64",
    );
    expect(refusal(() => decodeOne('UINT64', [2], '[1, -1]'))).toBe(
      "input 'x': element 1 is -1, not a valid UINT64",
    );
    expect(refusal(() => decodeOne('INT64', [1], '[1.5]'))).toBe(
      "input 'x': element 0 is 1.5, not a valid INT64",
    );
    expect(refusal(() => decodeOne('INT64', [1], '[1e300]'))).toMatch(
      /element 0 is 1e300, not a valid INT64/,
    );
  });

  it('checks the smaller integers against their range', () => {
    expect(decodeOne('UINT8', [2], '[0, 255]')).toEqual(new Uint8Array([0, 255]));
    expect(decodeOne('INT8', [2], '[-128, 127]')).toEqual(new Int8Array([-128, 127]));
    expect(decodeOne('INT32', [2], '[2.0, 1e2]')).toEqual(new Int32Array([2, 100]));
    expect(refusal(() => decodeOne('UINT8', [1], '[256]'))).toBe(
      "input 'x': element 0 is 256, not a valid UINT8",
    );
    expect(refusal(() => decodeOne('INT8', [1], '[-129]'))).toBe(
      "input 'x': element 0 is -129, not a valid INT8",
    );
    expect(refusal(() => decodeOne('INT32', [2], '[1, 2147483648]'))).toMatch(
      /element 1 .* not a valid INT32/,
    );
  });

  it('reads BYTES as UTF-8, escapes and all', () => {
    const data = decodeOne('BYTES', [4], String.raw`["abc", "a\"b\\n\n", "naïve ✓", "\u00e9\ud83d\ude00"]`);
    const text = (data as Uint8Array[]).map(bytesToText);
    expect(text).toEqual(['abc', 'a"b\\n\n', 'naïve ✓', 'é😀']);
    expect(refusal(() => decodeOne('BYTES', [2], '["a", 1]'))).toBe(
      "input 'x': element 1 is 1, not a valid BYTES",
    );
  });

  it('names the element count when the data does not fill the shape, without allocating a huge shape', () => {
    expect(refusal(() => decodeOne('FP32', [2, 3], '[1, 2, 3]'))).toBe(
      "input 'x': shape [2,3] needs 6 elements but data holds 3",
    );
    expect(refusal(() => decodeOne('FP32', [2], '[[1, 2], [3]]'))).toBe(
      "input 'x': shape [2] needs 2 elements but data holds 3",
    );
    expect(refusal(() => decodeOne('FP32', [100000, 100000, 100000], '[1]'))).toBe(
      "input 'x': shape [100000,100000,100000] needs 1000000000000000 elements but data holds 1",
    );
    // The count is named first, as a wrong element in data of the wrong length tells less.
    expect(refusal(() => decodeOne('INT32', [3], '[1.5, 2]'))).toMatch(/needs 3 elements but data holds 2/);
  });

  it('refuses data that is not JSON', () => {
    for (const dataText of [
      '[1,,2]',
      '[1 2]',
      '[01]',
      '[1.]',
      '[1,]',
      '[.5]',
      '[1e]',
      '[+1]',
      '[[1]',
      '[1]]',
      '[-]',
      // Bytes just above '9' inside a run of four, where the fraction is read four digits at a time.
      '[0.12:4567,1]',
      '[0.1234567?,1]',
      '[0.123/567,1]',
      '[1.5e3x,1]',
    ])
      expect(
        refusal(() => decodeOne('FP32', [2], dataText)),
        dataText,
      ).toMatch(/not valid JSON/);
    expect(refusal(() => decodeInferRequest(utf8('{"inputs":[{"name":"x","data":[1,2')))).toMatch(
      /not valid JSON/,
    );
  });

  it('decodes data that comes before its datatype and shape, and keys given twice as JSON.parse does', () => {
    const first = utf8('{"inputs":[{"data":[[1,2],[3,4]],"name":"x","datatype":"INT32","shape":[2,2]}]}');
    expect(decodeInferRequest(first).inputs[0]?.data).toEqual(new Int32Array([1, 2, 3, 4]));
    const twice = utf8(
      '{"inputs":[{"name":"a","shape":[1],"datatype":"FP32","data":[1]}],' +
        '"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[5],"shape":[2],"data":[6,7]}]}',
    );
    const { inputs } = decodeInferRequest(twice);
    expect(inputs.map((t) => [t.name, t.shape, Array.from(t.data as Float32Array)])).toEqual([
      ['x', [2], [6, 7]],
    ]);
    const notArray = utf8('{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[5],"data":5}]}');
    expect(refusal(() => decodeInferRequest(notArray))).toMatch(/invalid infer request: inputs.0.data/);
    const escapedKey = utf8(
      String.raw`{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"d\u0061ta":[5]}]}`,
    );
    expect(decodeInferRequest(escapedKey).inputs[0]?.data).toEqual(new Float32Array([5]));
  });

  it('decodes JSON data beside binary tensors, and responses too', () => {
    const encoded = encodeInferRequest({ id: 'r1' }, [
      {
        tensor: { name: 'a', datatype: 'FP32', shape: [3], data: new Float32Array([0.1, -2, 3e-8]) },
        binary: false,
      },
      {
        tensor: { name: 'b', datatype: 'INT64', shape: [2], data: new BigInt64Array([5n, -7n]) },
        binary: true,
      },
      { tensor: { name: 'c', datatype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) }, binary: false },
    ]);
    const { request, inputs } = decodeInferRequest(encoded.body, encoded.headerLength);
    expect(request.id).toBe('r1');
    expect(inputs.map((t) => t.data)).toEqual([
      new Float32Array([0.1, -2, 3e-8]),
      new BigInt64Array([5n, -7n]),
      new Uint8Array([1, 0]),
    ]);
    const response = utf8(
      '{"model_name":"m","outputs":[{"name":"y","datatype":"FP16","shape":[2],"data":[1.5,-0.25]}]}',
    );
    expect(Array.from(decodeInferResponse(response).outputs[0]?.data as Uint16Array)).toEqual([
      0x3e00, 0xb400,
    ]);
  });
});
