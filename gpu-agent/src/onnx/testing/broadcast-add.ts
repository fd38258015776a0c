import { writeFile } from 'node:fs/promises';
import type { onnx as Onnx } from 'onnx-proto';
import { encodeModel, floatValue, onnx } from './graph.js';

/**
 * `y = x + [1, 2, 3]` with x[batch, n] declared dynamic in n: the signature accepts any n, but
 * onnxruntime's broadcast fails at run time unless n is 3 (or 1). A model that fails inside onnxruntime
 * on an input it cannot take, as a detector whose sides must be multiples of 32 does.
 */
export function buildBroadcastAdd(): Uint8Array {
  const graph: Onnx.IGraphProto = {
    name: 'broadcast-add',
    input: [floatValue('x', ['batch', 'n'])],
    output: [floatValue('y', ['batch', 'n'])],
    initializer: [{ name: 'c', dims: [3], dataType: onnx.TensorProto.DataType.FLOAT, floatData: [1, 2, 3] }],
    node: [{ opType: 'Add', input: ['x', 'c'], output: ['y'] }],
  };
  return encodeModel(graph);
}

/** Writes the broadcast-add model to `path` and returns the path. */
export async function writeBroadcastAdd(path: string): Promise<string> {
  await writeFile(path, buildBroadcastAdd());
  return path;
}
