import onnxProto, { type onnx as Onnx } from 'onnx-proto';

// onnx-proto is CommonJS: Node's ESM loader exposes only its default export.
export const { onnx } = onnxProto;

/** A float tensor's name and shape; a string dimension is symbolic (`batch`). */
export function floatValue(name: string, dims: (number | string)[]): Onnx.IValueInfoProto {
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

/** The model file of `graph`, at opset 17 (what every test model here is built for). */
export function encodeModel(graph: Onnx.IGraphProto): Uint8Array {
  return onnx.ModelProto.encode({
    irVersion: 8,
    producerName: 'meridian-test',
    opsetImport: [{ domain: '', version: 17 }],
    graph,
  }).finish();
}
