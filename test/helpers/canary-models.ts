import { writeFile } from 'node:fs/promises';
import type { onnx as Onnx } from 'onnx-proto';
import { encodeModel, floatValue, onnx } from '../../gpu-agent/src/onnx/testing/graph.js';
import { buildMlp } from '../../gpu-agent/src/onnx/testing/mlp.js';

/**
 * A model that loads and takes the same input as a 4-feature MLP (x[batch, 4]), but fails every run inside
 * onnxruntime: it gathers column 7 of a 4-column input ("indices element out of data bounds"). A broken
 * export as one ships by mistake; the agent answers each call 500 with onnxruntime's message.
 */
export function buildGatherOutOfRange(): Uint8Array {
  const graph: Onnx.IGraphProto = {
    name: 'gather-out-of-range',
    input: [floatValue('x', ['batch', 4])],
    output: [floatValue('y', ['batch', 1])],
    initializer: [{ name: 'column', dims: [1], dataType: onnx.TensorProto.DataType.INT64, int64Data: [7] }],
    node: [
      {
        opType: 'Gather',
        input: ['x', 'column'],
        output: ['y'],
        attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }],
      },
    ],
  };
  return encodeModel(graph);
}

/** Writes the canary e2e's models to `dir`: two good MLPs (x[batch,4] → y[batch,2]) and the failing one. */
export async function writeCanaryModels(dir: string) {
  const files = {
    good1: `${dir}/mlp-1.onnx`,
    good2: `${dir}/mlp-2.onnx`,
    failing: `${dir}/gather-out-of-range.onnx`,
  };
  await writeFile(files.good1, buildMlp({ inputs: 4, hidden: 8, outputs: 2, seed: 1 }));
  await writeFile(files.good2, buildMlp({ inputs: 4, hidden: 8, outputs: 2, seed: 2 }));
  await writeFile(files.failing, buildGatherOutOfRange());
  return files;
}
