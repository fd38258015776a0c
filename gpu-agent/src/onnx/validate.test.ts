import type { Tensor } from '@meridian/protocol';
import { describe, expect, it } from 'vitest';
import { InferInputError } from './errors.js';
import type { ModelSignature } from './session.js';
import { selectOutputs, validateInputs } from './validate.js';

const signature: ModelSignature = {
  inputs: [
    { name: 'x', datatype: 'FP32', shape: [-1, 3] },
    { name: 'sr', datatype: 'INT64', shape: [] },
  ],
  outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 2] }],
};
const x: Tensor = { name: 'x', datatype: 'FP32', shape: [2, 3], data: new Float32Array(6) };
const sr: Tensor = { name: 'sr', datatype: 'INT64', shape: [], data: new BigInt64Array([16000n]) };

function message(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    if (err instanceof InferInputError) return err.message;
    throw err;
  }
  throw new Error('accepted');
}

describe('validateInputs', () => {
  it('returns inputs in signature order whatever order the request used', () => {
    expect(validateInputs(signature, [sr, x])).toEqual([x, sr]);
  });

  it('names unknown, missing and repeated inputs', () => {
    expect(message(() => validateInputs(signature, [x, sr, { ...x, name: 'z' }]))).toBe(
      "unexpected input 'z'; the model takes 'x', 'sr'",
    );
    expect(message(() => validateInputs(signature, [x]))).toBe("missing input 'sr' (INT64 [])");
    expect(message(() => validateInputs(signature, [x, x, sr]))).toBe("input 'x' appears more than once");
  });

  it('names datatype, rank, fixed-dimension and element-count mismatches', () => {
    expect(message(() => validateInputs(signature, [{ ...x, datatype: 'FP64' }, sr]))).toBe(
      "input 'x': datatype FP64 does not match the model's FP32",
    );
    expect(message(() => validateInputs(signature, [{ ...x, shape: [6] }, sr]))).toBe(
      "input 'x': shape [6] has rank 1 but the model expects rank 2 [-1,3]",
    );
    expect(message(() => validateInputs(signature, [{ ...x, shape: [3, 2] }, sr]))).toBe(
      "input 'x': dimension 1 is 2 but the model expects 3 [-1,3]",
    );
    expect(message(() => validateInputs(signature, [{ ...x, shape: [3, 3] }, sr]))).toBe(
      "input 'x': shape [3,3] needs 9 elements but data holds 6",
    );
  });

  it('checks requested outputs by name', () => {
    expect(selectOutputs(signature, undefined)).toEqual(['y']);
    expect(message(() => selectOutputs(signature, ['nope']))).toBe(
      "unknown output 'nope'; the model has 'y'",
    );
  });
});
