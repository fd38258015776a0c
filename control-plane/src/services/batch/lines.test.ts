import { describe, expect, it } from 'vitest';
import { parseLine } from './lines.js';

const target = {
  deploymentId: 'dep_01hx0000000000000000000000',
  name: 'ocr-cls',
  inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3, 48, -1] }],
};
const tensor = (shape: number[], data?: unknown[]) => ({
  name: 'x',
  datatype: 'FP32',
  shape,
  data: data ?? Array.from({ length: shape.reduce((n, d) => n * d, 1) }, () => 0.5),
});
const line = (body: unknown, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ custom_id: 'a-1', method: 'POST', url: '/v2/models/ocr-cls/infer', body, ...extra });

describe('parseLine', () => {
  it('accepts an OIP line whose input fits the signature', () => {
    const parsed = parseLine(line({ inputs: [tensor([1, 3, 48, 8])] }), target);
    expect(parsed.ok).toBe(true);
  });

  it('maps a simple predict line onto OIP with the signature datatype', () => {
    const nested = [Array.from({ length: 3 }, () => Array.from({ length: 48 }, () => [1, 2, 3, 4]))];
    const parsed = parseLine(
      line({ inputs: { x: nested } }, { url: '/v1/deployments/ocr-cls/predict' }),
      target,
    );
    expect(parsed).toMatchObject({
      ok: true,
      simple: true,
      request: { inputs: [{ datatype: 'FP32', shape: [1, 3, 48, 4] }] },
    });
  });

  it('names the fault of a line that is not JSON, has no custom_id or calls another deployment', () => {
    expect(parseLine('{nope', target)).toMatchObject({ ok: false, code: 'invalid_json', customId: null });
    expect(parseLine(JSON.stringify({ method: 'POST' }), target)).toMatchObject({
      code: 'invalid_custom_id',
    });
    expect(parseLine(line({}, { url: '/v2/models/other/infer' }), target)).toMatchObject({
      code: 'wrong_deployment',
      customId: 'a-1',
    });
    expect(parseLine(line({}, { method: 'GET' }), target)).toMatchObject({ code: 'invalid_method' });
    expect(parseLine(line({}, { method: undefined }), target)).toMatchObject({
      code: 'invalid_method',
      message: 'method is missing: it must be "POST"',
    });
  });

  it('tells a file of bare request bodies how a line is shaped', () => {
    const bare = JSON.stringify({ custom_id: 'row-1', inputs: [tensor([1, 3, 48, 8])] });
    const parsed = parseLine(bare, target);
    expect(parsed).toMatchObject({ ok: false, code: 'invalid_line', customId: 'row-1' });
    expect(parsed.ok ? '' : parsed.message).toContain('"method": "POST", "url": "/v2/models/{name}/infer"');
    expect(parseLine(JSON.stringify({ inputs: [] }), target)).toMatchObject({
      code: 'invalid_line',
      customId: null,
    });
  });

  it('refuses unknown inputs, wrong datatypes, shapes and element counts with the reason', () => {
    const bad = (body: unknown) => parseLine(line(body), target);
    expect(bad({ inputs: [{ ...tensor([1, 3, 48, 8]), name: 'y' }] })).toMatchObject({
      code: 'invalid_input',
      message: expect.stringContaining("unknown input 'y'"),
    });
    expect(bad({ inputs: [{ ...tensor([1, 3, 48, 8]), datatype: 'INT64' }] })).toMatchObject({
      message: expect.stringContaining('is FP32, not INT64'),
    });
    expect(bad({ inputs: [tensor([1, 4, 48, 8])] })).toMatchObject({
      message: expect.stringContaining('has shape [1,4,48,8]'),
    });
    expect(bad({ inputs: [tensor([1, 3, 48, 8], [1, 2, 3])] })).toMatchObject({
      message: expect.stringContaining('has 3 elements'),
    });
    expect(bad({ inputs: 'x' })).toMatchObject({ code: 'invalid_body' });
  });
});
