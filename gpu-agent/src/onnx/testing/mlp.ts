import { writeFile } from 'node:fs/promises';
import type { onnx as Onnx } from 'onnx-proto';
import { encodeModel, floatValue, onnx } from './graph.js';

export type MlpSpec = { inputs: number; hidden: number; outputs: number; seed?: number };

// A small deterministic PRNG (mulberry32) so the same spec always gives the same weights.
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  };
}

function initializer(name: string, dims: number[], next: () => number): Onnx.ITensorProto {
  const count = dims.reduce((n, d) => n * d, 1);
  return {
    name,
    dims,
    dataType: onnx.TensorProto.DataType.FLOAT,
    floatData: Array.from({ length: count }, next),
  };
}

/** Encodes an MLP `x[batch,inputs] → MatMul → Add → Relu → MatMul → Add → y[batch,outputs]`, opset 17. */
export function buildMlp(spec: MlpSpec): Uint8Array {
  const next = random(spec.seed ?? 1);
  const graph: Onnx.IGraphProto = {
    name: 'mlp',
    input: [floatValue('x', ['batch', spec.inputs])],
    output: [floatValue('y', ['batch', spec.outputs])],
    initializer: [
      initializer('w1', [spec.inputs, spec.hidden], next),
      initializer('b1', [spec.hidden], next),
      initializer('w2', [spec.hidden, spec.outputs], next),
      initializer('b2', [spec.outputs], next),
    ],
    node: [
      { opType: 'MatMul', input: ['x', 'w1'], output: ['h0'] },
      { opType: 'Add', input: ['h0', 'b1'], output: ['h1'] },
      { opType: 'Relu', input: ['h1'], output: ['h2'] },
      { opType: 'MatMul', input: ['h2', 'w2'], output: ['y0'] },
      { opType: 'Add', input: ['y0', 'b2'], output: ['y'] },
    ],
  };
  return encodeModel(graph);
}

/** Writes an MLP to `path` and returns the path. */
export async function writeMlp(path: string, spec: MlpSpec): Promise<string> {
  await writeFile(path, buildMlp(spec));
  return path;
}
