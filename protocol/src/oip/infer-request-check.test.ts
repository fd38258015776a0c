import { describe, expect, it } from 'vitest';
import { checkInferRequest } from './infer-request-check.js';
import { InferRequest } from './schemas.js';

const base = {
  id: 'r1',
  parameters: { binary_data_output: true, priority: 2, tag: 'x' },
  inputs: [
    { name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] },
    { name: 'y', shape: [], datatype: 'INT64', parameters: { binary_data_size: 8 } },
  ],
  outputs: [{ name: 'out', parameters: { binary_data: false } }, { name: 'other' }],
};

/** The base request with one change at `path` (undefined deletes the key). */
function variant(path: (string | number)[], value: unknown): unknown {
  const copy = JSON.parse(JSON.stringify(base)) as Record<string | number, unknown>;
  let at: Record<string | number, unknown> = copy;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string | number, unknown>;
  const last = path.at(-1) as string | number;
  if (value === undefined) delete at[last];
  else at[last] = value;
  return copy;
}

const cases: unknown[] = [
  base,
  { inputs: base.inputs },
  JSON.parse('{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}],"__proto__":{"a":1}}'),
  JSON.parse(
    '{"parameters":{"__proto__":1},"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}',
  ),
  null,
  [],
  'text',
  variant(['extra'], 1),
  variant(['id'], 5),
  variant(['id'], 'i'.repeat(257)),
  variant(['parameters'], []),
  variant(['parameters', 'nested'], { a: 1 }),
  variant(['parameters', 'nothing'], null),
  variant(['inputs'], []),
  variant(
    ['inputs'],
    Array.from({ length: 65 }, () => base.inputs[0]),
  ),
  variant(['inputs', 0], 'x'),
  variant(['inputs', 0, 'name'], ''),
  variant(['inputs', 0, 'name'], 'n'.repeat(257)),
  variant(['inputs', 0, 'name'], undefined),
  variant(['inputs', 0, 'shape'], [1.5]),
  variant(['inputs', 0, 'shape'], [-1]),
  variant(['inputs', 0, 'shape'], Array(17).fill(1)),
  variant(['inputs', 0, 'shape'], '1'),
  variant(['inputs', 0, 'shape'], [2 ** 60]),
  variant(['inputs', 0, 'datatype'], 'FP8'),
  variant(['inputs', 0, 'datatype'], undefined),
  variant(['inputs', 0, 'data'], 3),
  variant(['inputs', 0, 'data'], null),
  variant(['inputs', 0, 'extra'], true),
  variant(['inputs', 1, 'parameters'], 'binary'),
  variant(['outputs'], {}),
  variant(['outputs', 0, 'name'], 7),
  variant(['outputs', 1], null),
  variant(['outputs', 0, 'parameters', 'binary_data'], [true]),
];

describe('checkInferRequest', () => {
  it('accepts only what the InferRequest schema accepts, and gives what it gives', () => {
    for (const [i, json] of cases.entries()) {
      const fast = checkInferRequest(json);
      const zod = InferRequest.safeParse(json);
      if (fast !== undefined) {
        expect(zod.success, `case ${i}`).toBe(true);
        expect(fast, `case ${i}`).toEqual(zod.data);
      }
    }
  });

  it('takes the requests clients send without asking zod', () => {
    expect(checkInferRequest(base)).toBeDefined();
    expect(checkInferRequest({ inputs: base.inputs })).toBeDefined();
  });
});
