import { writeFile } from 'node:fs/promises';
import onnxProto, { type onnx as Onnx } from 'onnx-proto';

// onnx-proto is CommonJS: Node's ESM loader exposes only its default export.
const { onnx } = onnxProto;

function valueInfo(name: string, dims: (number | string)[]): Onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/**
 * `y = x + [1, 2, 3]` with x[batch, n] declared dynamic in n: the signature accepts any n, but
 * onnxruntime's broadcast fails at run time unless n is 3 (or 1). A model that fails inside onnxruntime
 * on an input it cannot take, as a detector whose sides must be multiples of 32 does.
 */
export function buildBroadcastAdd(): Uint8Array {
  const graph: Onnx.IGraphProto = {
    name: 'broadcast-add',
    input: [valueInfo('x', ['batch', 'n'])],
    output: [valueInfo('y', ['batch', 'n'])],
    initializer: [{ name: 'c', dims: [3], dataType: onnx.TensorProto.DataType.FLOAT, floatData: [1, 2, 3] }],
    node: [{ opType: 'Add', input: ['x', 'c'], output: ['y'] }],
  };
  return onnx.ModelProto.encode({
    irVersion: 8,
    producerName: 'meridian-test',
    opsetImport: [{ domain: '', version: 17 }],
    graph,
  }).finish();
}

/** Writes the broadcast-add model to `path` and returns the path. */
export async function writeBroadcastAdd(path: string): Promise<string> {
  await writeFile(path, buildBroadcastAdd());
  return path;
}
