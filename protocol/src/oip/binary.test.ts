import { describe, expect, it } from 'vitest';
import {
  decodeInferRequest,
  decodeInferResponse,
  encodeInferRequest,
  encodeInferResponse,
} from './binary.js';
import type { Tensor } from './datatypes.js';
import { OipCodecError } from './tensor.js';
import { bytesToText, textToBytes } from './text.js';

const fp32: Tensor = { name: 'x', datatype: 'FP32', shape: [2, 2], data: new Float32Array([1, -2.5, 3, 4]) };
const int64: Tensor = { name: 'n', datatype: 'INT64', shape: [], data: new BigInt64Array([16000n]) };
const bytes: Tensor = {
  name: 's',
  datatype: 'BYTES',
  shape: [2],
  data: [textToBytes('héllo'), new Uint8Array([0, 255])],
};

// JSON carries BYTES as strings, so only valid UTF-8 survives it.
const text: Tensor = { name: 't', datatype: 'BYTES', shape: [1], data: [textToBytes('ok ✓')] };

function decodeError(body: Uint8Array, headerLength?: number): string {
  try {
    decodeInferRequest(body, headerLength);
  } catch (err) {
    if (err instanceof OipCodecError) return err.message;
    throw err;
  }
  throw new Error('decoded without error');
}

describe('OIP binary tensor extension', () => {
  it('round-trips a request whose tensors are all binary, byte for byte', () => {
    const { body, headerLength } = encodeInferRequest({ id: 'r1' }, [
      { tensor: fp32, binary: true },
      { tensor: int64, binary: true },
      { tensor: bytes, binary: true },
    ]);
    expect(headerLength).toBeGreaterThan(0);
    const { request, inputs } = decodeInferRequest(body, headerLength);
    expect(request.id).toBe('r1');
    expect(request.inputs[0]?.parameters?.binary_data_size).toBe(16);
    expect(inputs).toEqual([fp32, int64, bytes]);
  });

  it('mixes JSON and binary tensors in one request', () => {
    const { body, headerLength } = encodeInferRequest({}, [
      { tensor: fp32, binary: false },
      { tensor: int64, binary: true },
    ]);
    expect(decodeInferRequest(body, headerLength).inputs).toEqual([fp32, int64]);
  });

  it('is plain JSON without the header when nothing is binary', () => {
    const { body, headerLength } = encodeInferRequest({}, [{ tensor: fp32, binary: false }]);
    expect(headerLength).toBeUndefined();
    expect(JSON.parse(bytesToText(body)).inputs[0].data).toEqual([1, -2.5, 3, 4]);
    expect(decodeInferRequest(body).inputs).toEqual([fp32]);
  });

  it('round-trips a response with binary and JSON outputs', () => {
    const { body, headerLength } = encodeInferResponse({ model_name: 'm', model_version: '1' }, [
      { tensor: fp32, binary: true },
      { tensor: text, binary: false },
    ]);
    const { response, outputs } = decodeInferResponse(body, headerLength);
    expect(response.model_name).toBe('m');
    expect(outputs).toEqual([fp32, text]);
  });

  it('rejects a truncated binary payload and says how many bytes were left', () => {
    const { body, headerLength } = encodeInferRequest({}, [{ tensor: fp32, binary: true }]);
    expect(decodeError(body.subarray(0, body.length - 3), headerLength)).toBe(
      "input 'x': binary_data_size 16 runs past the end of the body (13 bytes left)",
    );
  });

  it('rejects bytes after the last binary tensor', () => {
    const { body, headerLength } = encodeInferRequest({}, [{ tensor: fp32, binary: true }]);
    const longer = new Uint8Array(body.length + 5);
    longer.set(body);
    expect(decodeError(longer, headerLength)).toBe('5 bytes follow the last binary tensor');
  });

  it('rejects a header length larger than the body, zero, or cutting the JSON', () => {
    const { body, headerLength = 0 } = encodeInferRequest({}, [{ tensor: fp32, binary: true }]);
    expect(decodeError(body, body.length + 1)).toMatch(/does not fit a body/);
    expect(decodeError(body, 0)).toMatch(/does not fit a body/);
    expect(decodeError(body, headerLength - 1)).toBe('the JSON part of the body is not valid JSON');
  });

  it('names an empty JSON body as empty, not as a header length it never sent', () => {
    expect(decodeError(new Uint8Array(0))).toBe(
      'the body is empty: an infer request is a JSON document such as {"inputs": [...]}',
    );
  });

  it('rejects a binary_data_size that disagrees with the shape', () => {
    const json = textToBytes(
      JSON.stringify({
        inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 2], parameters: { binary_data_size: 12 } }],
      }),
    );
    const body = new Uint8Array(json.length + 12);
    body.set(json);
    expect(decodeError(body, json.length)).toBe(
      "input 'x': shape [2,2] of FP32 needs 16 bytes but binary_data_size is 12",
    );
  });

  it('rejects a truncated BYTES element', () => {
    const { body, headerLength } = encodeInferRequest({}, [{ tensor: bytes, binary: true }]);
    expect(decodeError(body.subarray(0, body.length - 1), headerLength)).toMatch(/runs past the end/);
  });

  it('reads a binary tensor that starts at an unaligned offset', () => {
    const { body, headerLength } = encodeInferRequest({}, [
      { tensor: { name: 'b', datatype: 'UINT8', shape: [3], data: new Uint8Array([1, 2, 3]) }, binary: true },
      { tensor: fp32, binary: true },
    ]);
    expect(decodeInferRequest(body, headerLength).inputs[1]).toEqual(fp32);
  });

  it('rejects a tensor with both data and binary_data_size, or with neither', () => {
    const both = textToBytes(
      JSON.stringify({
        inputs: [
          { name: 'x', datatype: 'UINT8', shape: [1], data: [1], parameters: { binary_data_size: 1 } },
        ],
      }),
    );
    expect(decodeError(both)).toBe("input 'x' has both data and binary_data_size");
    const neither = textToBytes(JSON.stringify({ inputs: [{ name: 'x', datatype: 'UINT8', shape: [1] }] }));
    expect(decodeError(neither)).toBe("input 'x' has neither data nor binary_data_size");
  });

  it('names the schema problem for a malformed request', () => {
    const body = textToBytes(
      JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP128', shape: [1], data: [1] }] }),
    );
    expect(decodeError(body)).toMatch(/^invalid infer request: inputs\.0\.datatype/);
  });
});
