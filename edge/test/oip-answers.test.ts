import { describe, expect, it } from 'vitest';
import { codeForStatus, readAgentError } from '../src/oip/agent-errors.js';
import { binaryHeaderLength } from '../src/oip/binary-header.js';
import { nameInferAnswer, nameModelDescription } from '../src/oip/model-names.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const names = { deploymentId: 'dep_abc', versionId: 'mdv_xyz', name: 'fraud', version: 3 };

describe('nameInferAnswer', () => {
  it("names the deployment and version number the caller used in the agent's JSON answer", () => {
    const agent =
      '{"model_name":"dep_abc","model_version":"mdv_xyz","id":"r1","outputs":[{"name":"y","shape":[1],"datatype":"FP32","data":[0.5]}]}';

    const named = nameInferAnswer({ body: encoder.encode(agent), headerLength: undefined }, names);

    expect(named.headerLength).toBeUndefined();
    expect(JSON.parse(decoder.decode(named.body))).toEqual({
      ...JSON.parse(agent),
      model_name: 'fraud',
      model_version: '3',
    });
  });

  it('rewrites a header in another key order by parsing it', () => {
    const agent = '{"outputs":[],"model_version":"mdv_xyz","model_name":"dep_abc"}';

    const named = nameInferAnswer({ body: encoder.encode(agent), headerLength: undefined }, names);

    expect(JSON.parse(decoder.decode(named.body))).toEqual({
      outputs: [],
      model_name: 'fraud',
      model_version: '3',
    });
  });

  it('rewrites only the JSON header of a binary answer and sets its new length', () => {
    const header = encoder.encode(
      '{"model_name":"dep_abc","model_version":"mdv_xyz","outputs":[{"name":"y","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":8}}]}',
    );
    const tensor = new Uint8Array(new Float32Array([1.5, -2]).buffer);
    const body = new Uint8Array(header.byteLength + tensor.byteLength);
    body.set(header, 0);
    body.set(tensor, header.byteLength);

    const named = nameInferAnswer({ body, headerLength: String(header.byteLength) }, names);

    const length = Number(named.headerLength);
    const json = JSON.parse(decoder.decode(named.body.subarray(0, length))) as Record<string, unknown>;
    expect(json.model_name).toBe('fraud');
    expect(json.model_version).toBe('3');
    expect(named.body.byteLength).toBe(length + tensor.byteLength);
    expect([...new Float32Array(named.body.slice(length).buffer)]).toEqual([1.5, -2]);
  });

  it('leaves a body that is not a JSON object as it is', () => {
    const body = encoder.encode('not json');

    expect(nameInferAnswer({ body, headerLength: undefined }, names).body).toBe(body);
    expect(nameInferAnswer({ body, headerLength: '99' }, names).headerLength).toBe('99');
  });
});

describe('nameModelDescription', () => {
  it('names the deployment and lists version numbers', () => {
    const body = encoder.encode('{"name":"dep_abc","versions":["mdv_xyz"],"platform":"onnxruntime_onnx"}');

    expect(nameModelDescription(body, 'fraud', [1, 3])).toEqual({
      name: 'fraud',
      versions: ['1', '3'],
      platform: 'onnxruntime_onnx',
    });
    expect(nameModelDescription(encoder.encode('{"name":"dep_abc","ready":true}'), 'fraud')).toEqual({
      name: 'fraud',
      ready: true,
    });
  });
});

describe('binaryHeaderLength', () => {
  it('accepts a decimal length within the body', () => {
    expect(binaryHeaderLength(undefined, 10)).toBeUndefined();
    expect(binaryHeaderLength('10', 10)).toBe('10');
    expect(binaryHeaderLength(' 4 ', 10)).toBe('4');
  });

  it.each([
    ['larger than the body', '11', /does not fit a body of 10 bytes/],
    ['negative', '-1', /must be a decimal byte count/],
    ['not a number', 'abc', /must be a decimal byte count/],
    ['hexadecimal', '0x4', /must be a decimal byte count/],
    ['zero', '0', /does not fit/],
  ])('refuses a length %s with 400', (_, value, message) => {
    expect(() => binaryHeaderLength(value, 10)).toThrow(
      expect.objectContaining({ code: 'bad_request', message: expect.stringMatching(message) }),
    );
  });
});

describe('readAgentError', () => {
  it("keeps OIP's string error as it is", () => {
    expect(readAgentError(400, encoder.encode('{"error":"bad shape","requestId":"r"}'))).toEqual({
      message: 'bad shape',
      oip: true,
    });
  });

  it('reads the message of an envelope and of plain text', () => {
    expect(readAgentError(404, encoder.encode('{"error":{"code":"not_found","message":"gone"}}'))).toEqual({
      message: 'gone',
      oip: false,
    });
    expect(readAgentError(502, encoder.encode('Bad Gateway\n'))).toEqual({
      message: 'Bad Gateway',
      oip: false,
    });
    expect(readAgentError(500, new Uint8Array(0))).toEqual({
      message: 'the model server answered 500',
      oip: false,
    });
  });

  it('maps statuses to codes', () => {
    expect(codeForStatus(400)).toBe('bad_request');
    expect(codeForStatus(504)).toBe('unavailable');
    expect(codeForStatus(418)).toBe('bad_request');
    expect(codeForStatus(402)).toBe('payment_required');
    expect(codeForStatus(409)).toBe('conflict');
    expect(codeForStatus(500)).toBe('internal');
  });
});
