import { OIP_DATATYPE_BY_ORT_TYPE, type OipDatatype, type Tensor, type TensorData } from '@meridian/protocol';
import { Tensor as OrtTensor } from 'onnxruntime-node';

/** onnxruntime tensor type names → OIP datatypes (one table, shared with the control plane). */
export const OIP_BY_ORT_TYPE = OIP_DATATYPE_BY_ORT_TYPE;

const ORT_BY_OIP: Record<OipDatatype, OrtTensor.Type> = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP16: 'float16',
  FP32: 'float32',
  FP64: 'float64',
  BYTES: 'string',
};

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** A protocol tensor as an onnxruntime tensor; numeric data is shared, not copied. */
export function toOrtTensor(tensor: Tensor): OrtTensor {
  const { data } = tensor;
  const ortData = Array.isArray(data) ? data.map((b) => decoder.decode(b)) : data;
  return new OrtTensor(ORT_BY_OIP[tensor.datatype], ortData, tensor.shape);
}

/** An onnxruntime output as a protocol tensor. */
export function fromOrtTensor(name: string, value: OrtTensor): Tensor {
  const datatype = OIP_BY_ORT_TYPE[value.type];
  if (datatype === undefined)
    throw new Error(`output '${name}' has type ${value.type}, which OIP cannot carry`);
  const raw = value.data;
  const data: TensorData = Array.isArray(raw)
    ? raw.map((s) => encoder.encode(String(s)))
    : (raw as Exclude<TensorData, Uint8Array[]>);
  return { name, datatype, shape: value.dims.map(Number), data };
}
