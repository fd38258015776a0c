import { decodeInferRequest, encodeInferResponse, type Tensor as ProtocolTensor } from '@meridian/protocol';
import { decodeResponse, encodeBinary, encodeJson } from '@meridian/sdk';
import { describe, expect, it } from 'vitest';

// The SDK keeps its own copy of the BYTES codec (it depends on no other package): this holds it to the
// agent's, @meridian/protocol's, in both directions.

const utf8 = (s: string) => new TextEncoder().encode(s);
const HEADER_LENGTH = 'inference-header-content-length';

describe("the SDK's BYTES tensors on the agent's wire", () => {
  it('sends BYTES inputs in binary form that the agent decodes element for element', () => {
    const raw = new Uint8Array([0, 255, 10]);
    const { body, headers } = encodeBinary([
      { name: 'text', datatype: 'BYTES', shape: [2, 2], data: ['héllo', '', raw, 'ok ✓'] },
      { name: 'x', datatype: 'FP32', shape: [2], data: Float32Array.of(1, -2.5) },
    ]);
    const { inputs } = decodeInferRequest(body, Number(headers[HEADER_LENGTH]));
    expect(inputs).toEqual([
      { name: 'text', datatype: 'BYTES', shape: [2, 2], data: [utf8('héllo'), utf8(''), raw, utf8('ok ✓')] },
      { name: 'x', datatype: 'FP32', shape: [2], data: Float32Array.of(1, -2.5) },
    ]);
    // And in JSON, as strings.
    const json = decodeInferRequest(
      utf8(encodeJson([{ name: 't', datatype: 'BYTES', shape: [1], data: ['é'] }]).body),
    );
    expect(json.inputs[0]?.data).toEqual([utf8('é')]);
  });

  it("reads the agent's BYTES outputs, binary or JSON, as the same strings", () => {
    const label: ProtocolTensor = {
      name: 'label',
      datatype: 'BYTES',
      shape: [1, 3],
      data: [utf8('cat'), utf8(''), utf8('naïve ✓')],
    };
    const score: ProtocolTensor = {
      name: 'score',
      datatype: 'FP32',
      shape: [1],
      data: Float32Array.of(0.25),
    };
    const expected = [
      { name: 'label', datatype: 'BYTES', shape: [1, 3], data: ['cat', '', 'naïve ✓'] },
      { name: 'score', datatype: 'FP32', shape: [1], data: [0.25] },
    ];
    for (const binary of [true, false]) {
      const { body, headerLength } = encodeInferResponse({ model_name: 'm' }, [
        { tensor: label, binary },
        { tensor: score, binary },
      ]);
      const answer = decodeResponse(body, headerLength === undefined ? null : String(headerLength));
      expect(answer.outputs).toEqual(expected);
    }
  });
});
