import { describe, expect, it } from 'vitest';
import { encodeInferRequest, encodeInferResponse, type TensorToSend } from './binary.js';
import type { Tensor } from './datatypes.js';
import { tensorToBytes, tensorToJson } from './tensor.js';
import { bytesToText, textToBytes } from './text.js';

/**
 * What the encoder wrote before it printed numeric arrays in chunks, and what any client expects: the whole
 * document through one `JSON.stringify`, binary tensors after it.
 */
function reference(meta: Record<string, unknown>, key: string, items: TensorToSend[]) {
  const binaries: Uint8Array[] = [];
  const list = items.map(({ tensor, binary, parameters }) => {
    const wire: Record<string, unknown> = {
      name: tensor.name,
      datatype: tensor.datatype,
      shape: tensor.shape,
    };
    if (binary) {
      const bytes = tensorToBytes(tensor);
      binaries.push(bytes);
      wire.parameters = { ...parameters, binary_data_size: bytes.byteLength };
    } else {
      if (parameters) wire.parameters = parameters;
      wire.data = tensorToJson(tensor);
    }
    return wire;
  });
  const header = textToBytes(JSON.stringify({ ...meta, [key]: list }));
  const body = Uint8Array.from([header, ...binaries].flatMap((part) => [...part]));
  return { body, headerLength: binaries.length === 0 ? undefined : header.byteLength };
}

/** A deterministic stream of awkward numbers: printed lengths from 1 to 24 characters. */
function values(count: number, seed: number): number[] {
  const special = [0, -0, 1, -1, 0.1, 1 / 3, 1e-7, 1e21, 123456789, Number.NaN, Infinity, -Infinity];
  let state = seed;
  return Array.from({ length: count }, (_, i) => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const r = state / 2 ** 31;
    return i % 7 === 0 ? (special[i % special.length] as number) : (r - 0.5) * 10 ** ((i % 13) - 6);
  });
}

const fp32 = (name: string, count: number, seed = 1): Tensor => ({
  name,
  datatype: 'FP32',
  shape: [count],
  data: Float32Array.from(values(count, seed)),
});

function expectSame(meta: Record<string, unknown>, key: 'inputs' | 'outputs', items: TensorToSend[]) {
  const got =
    key === 'outputs'
      ? encodeInferResponse(meta as { model_name: string }, items)
      : encodeInferRequest(meta, items);
  const want = reference(meta, key, items);
  expect(got.headerLength).toBe(want.headerLength);
  // Compared as text first, so a failure shows where the documents part.
  expect(bytesToText(got.body.subarray(0, got.headerLength))).toBe(
    bytesToText(want.body.subarray(0, want.headerLength)),
  );
  expect(got.body).toEqual(want.body);
}

describe('JSON encoding of tensors', () => {
  it.each([0, 1, 2, 4095, 4096, 4097, 8192, 8193, 20_000])(
    'writes %i FP32 elements exactly as JSON.stringify does, across chunk boundaries',
    (count) => {
      expectSame({ model_name: 'm', model_version: '1' }, 'outputs', [
        { tensor: fp32('y', count), binary: false },
      ]);
    },
  );

  it('writes every numeric datatype, including its extremes, as JSON.stringify does', () => {
    const tensors: Tensor[] = [
      { name: 'i8', datatype: 'INT8', shape: [3], data: new Int8Array([-128, 0, 127]) },
      { name: 'u8', datatype: 'UINT8', shape: [3], data: new Uint8Array([0, 1, 255]) },
      { name: 'i16', datatype: 'INT16', shape: [2], data: new Int16Array([-32768, 32767]) },
      { name: 'u16', datatype: 'UINT16', shape: [2], data: new Uint16Array([0, 65535]) },
      { name: 'i32', datatype: 'INT32', shape: [3], data: new Int32Array([-(2 ** 31), 0, 2 ** 31 - 1]) },
      { name: 'u32', datatype: 'UINT32', shape: [2], data: new Uint32Array([0, 2 ** 32 - 1]) },
      {
        name: 'f64',
        datatype: 'FP64',
        shape: [5006],
        data: Float64Array.from([5e-324, 1.7976931348623157e308, -0, ...values(5003, 7)]),
      },
      {
        name: 'f32',
        datatype: 'FP32',
        shape: [4],
        data: new Float32Array([1e-45, 3.4028234663852886e38, -1.1754943508222875e-38, 0.1]),
      },
    ];
    expectSame(
      { model_name: 'm' },
      'outputs',
      tensors.map((tensor) => ({ tensor, binary: false })),
    );
  });

  it('keeps the other datatypes, binary tensors, parameters and non-ASCII names where they were', () => {
    const items: TensorToSend[] = [
      { tensor: { name: 'b', datatype: 'BOOL', shape: [3], data: new Uint8Array([1, 0, 1]) }, binary: false },
      { tensor: fp32('früh ✓', 5000, 3), binary: false, parameters: { unit: 'mm', scale: 2 } },
      { tensor: fp32('raw', 16, 4), binary: true },
      {
        tensor: { name: 'h', datatype: 'FP16', shape: [2], data: new Uint16Array([0x3c00, 0xc000]) },
        binary: false,
      },
      {
        tensor: { name: 'n', datatype: 'INT64', shape: [1], data: new BigInt64Array([16000n]) },
        binary: false,
      },
      { tensor: { name: 's', datatype: 'BYTES', shape: [1], data: [textToBytes('ok ✓')] }, binary: false },
      { tensor: fp32('tail', 3, 5), binary: true },
    ];
    expectSame(
      { model_name: 'モデル "q"', model_version: '12', id: 'req-1', parameters: { sequence_end: true } },
      'outputs',
      items,
    );
  });

  it('writes a request with no other fields, and one that asks for outputs', () => {
    expectSame({}, 'inputs', [{ tensor: fp32('x', 4097), binary: false }]);
    expectSame({ id: 'a', outputs: [{ name: 'y', parameters: { binary_data: true } }] }, 'inputs', [
      { tensor: fp32('x', 3), binary: false },
      { tensor: fp32('z', 2), binary: true },
    ]);
  });

  it('writes a request without tensors', () => {
    expectSame({ id: 'empty' }, 'inputs', []);
  });
});
