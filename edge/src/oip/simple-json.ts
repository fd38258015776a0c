import { EdgeError, echoed } from '../errors.js';

/** What `POST /v1/deployments/{id}/predict` takes: each input by name, as a (nested) array or a scalar. */
export type SimpleInputs = Record<string, unknown>;
export interface TensorSpec {
  name: string;
  datatype: string;
}
interface OipTensor {
  name: string;
  datatype: string;
  shape: number[];
  data: unknown[];
}

/** Shape and flat data of a nested array; ragged arrays are refused, since a tensor is rectangular. */
function flatten(name: string, value: unknown): { shape: number[]; data: unknown[] } {
  if (!Array.isArray(value)) return { shape: [], data: [value] };
  const shape: number[] = [];
  for (let level: unknown = value; Array.isArray(level); level = level[0]) shape.push(level.length);
  const data: unknown[] = [];
  const walk = (node: unknown, depth: number) => {
    if (depth === shape.length) {
      if (Array.isArray(node)) throw ragged(name);
      data.push(node);
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[depth]) throw ragged(name);
    for (const child of node) walk(child, depth + 1);
  };
  walk(value, 0);
  return { shape, data };
}

const ragged = (name: string) =>
  new EdgeError(
    'bad_request',
    `input '${echoed(name)}' is not a rectangular array: every row must have the same length`,
  );

/**
 * Maps simple JSON onto an OIP v2 infer request, taking each input's datatype from the model's metadata;
 * the agent then checks names, shapes and element counts against the signature as for any OIP call.
 */
export function toOipRequest(inputs: unknown, signature: TensorSpec[]): { inputs: OipTensor[] } {
  if (typeof inputs !== 'object' || inputs === null || Array.isArray(inputs))
    throw new EdgeError(
      'bad_request',
      'inputs must be an object of input name → array, e.g. {"inputs": {"x": [[1, 2]]}}',
    );
  const known = new Map(signature.map((t) => [t.name, t]));
  const tensors: OipTensor[] = [];
  for (const [name, value] of Object.entries(inputs as SimpleInputs)) {
    const spec = known.get(name);
    if (!spec)
      throw new EdgeError(
        'bad_request',
        `unknown input '${echoed(name)}'; the model takes ${[...known.keys()].join(', ')}`,
      );
    tensors.push({ name, datatype: spec.datatype, ...flatten(name, value) });
  }
  return { inputs: tensors };
}

/** Turns OIP outputs back into nested arrays by their shapes: `{name: [[…]]}`. */
export function fromOipResponse(
  outputs: { name: string; shape: number[]; data: unknown[] }[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const tensor of outputs) out[tensor.name] = nest(tensor.data, tensor.shape);
  return out;
}

function nest(data: unknown[], shape: number[]): unknown {
  if (shape.length === 0) return data[0];
  const [first = 0, ...rest] = shape;
  const size = rest.reduce((n, d) => n * d, 1);
  return Array.from({ length: first }, (_, i) => nest(data.slice(i * size, (i + 1) * size), rest));
}
