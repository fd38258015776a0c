import { describe, expect, it } from 'vitest';
import { snippetsFor } from './snippets';

const EDGE = 'http://127.0.0.1:8787';
const tensor = (name: string, datatype: string, shape: number[]) => ({ name, datatype, shape, dimNames: [] });
const signature = (inputs: ReturnType<typeof tensor>[]) =>
  ({ inputs, outputs: [tensor('y', 'FP32', [-1, 2])] }) as unknown as Parameters<typeof snippetsFor>[2];

/** The request the CLI snippet's `node -e '…'` prints, computed here as Node would (the e2e test runs both). */
const requestOf = (cli: string) => {
  const script = /node -e '(.*)' \| npx meridian/.exec(cli.replaceAll(`'\\''`, "'"))?.[1] ?? 'throw 0';
  let printed = '';
  new Function('console', script)({ log: (text: string) => (printed = text) });
  return JSON.parse(printed) as { inputs: { name: string; shape: number[]; data: unknown[] }[] };
};

describe('snippetsFor', () => {
  it('writes a small request out in full: a value for every element, dynamic dimensions as 1', () => {
    const { curl, cli } = snippetsFor(EDGE, 'ocr-cls', signature([tensor('x', 'FP32', [-1, 3, -1, -1])]));
    const body = '{"inputs":[{"name":"x","datatype":"FP32","shape":[1,3,1,1],"data":[0,0,0]}]}';
    expect(curl).toContain(`-d '${body}'`);
    expect(cli).toContain(`echo '${body}' | npx meridian predict ocr-cls --data -`);
  });

  it('builds a large request with every value, for curl (Python) and the CLI (Node.js), never a short list', () => {
    const { curl, cli } = snippetsFor(EDGE, 'wide', signature([tensor('x', 'FP32', [-1, 64])]));
    const request = requestOf(cli);
    expect(request.inputs[0]).toMatchObject({ name: 'x', shape: [1, 64] });
    expect(request.inputs[0]?.data).toEqual(Array(64).fill(0));
    expect(curl).toContain(
      `python3 -c 'import json; print(json.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1,64], "data": [0] * 64}]}))'`,
    );
    expect(curl).toContain('| curl -s http://127.0.0.1:8787/v2/models/wide/infer');
    expect(curl).toContain('--data-binary @-');
  });

  it('sends BOOL as false (OIP JSON refuses numbers there) and quotes names for the shell', () => {
    const { curl, cli } = snippetsFor(
      EDGE,
      'flags',
      signature([tensor('mask', 'BOOL', [40]), tensor("it's", 'INT64', [1])]),
    );
    const request = requestOf(cli);
    expect(request.inputs.map((t) => t.name)).toEqual(['mask', "it's"]);
    expect(request.inputs[0]?.data).toEqual(Array(40).fill(false));
    expect(request.inputs[1]?.data).toEqual([0]);
    expect(curl).toContain(`"name": "mask", "datatype": "BOOL", "shape": [40], "data": [False] * 40}`);
    expect(curl).toContain(`python3 -c 'import json; print(json.dumps({"inputs": [{"name": "mask"`);
    expect(curl).toContain(`"name": "it'\\''s"`);
  });
});
