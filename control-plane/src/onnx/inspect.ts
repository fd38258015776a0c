import { OIP_DATATYPE_BY_ORT_TYPE } from '@meridian/protocol';
import { InferenceSession } from 'onnxruntime-node';
import { defaultOpset, OnnxHeaderError, readOnnxHeader } from './model-header.js';

/** One input or output as the Open Inference Protocol describes it. */
export type TensorSpec = {
  name: string;
  /** OIP datatype (FP32, INT64, BYTES, …); NON_TENSOR for sequences and maps. */
  datatype: string;
  /** -1 for every dynamic dimension, as OIP metadata has it. */
  shape: number[];
  /** Per dimension, the symbolic name the model gives a dynamic dimension; null where it has none. */
  dimNames: (string | null)[];
};

/** What the control plane records about an ONNX model and agents check requests against. */
export type OnnxSignature = {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** Version of the default (ai.onnx) operator set. */
  opset: number | null;
  opsetImports: { domain: string; version: number }[];
  irVersion: number | null;
  producer: { name: string; version: string };
};

export type OnnxInspection = { ok: true; signature: OnnxSignature } | { ok: false; reason: string };

function describe(value: InferenceSession.ValueMetadata): TensorSpec {
  if (!value.isTensor) return { name: value.name, datatype: 'NON_TENSOR', shape: [], dimNames: [] };
  const dims = value.shape;
  return {
    name: value.name,
    datatype: OIP_DATATYPE_BY_ORT_TYPE[value.type] ?? value.type.toUpperCase(),
    shape: dims.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)),
    dimNames: dims.map((d) => (typeof d === 'string' && d !== '' ? d : null)),
  };
}

/**
 * Loads an ONNX file with onnxruntime (CPU, no graph optimisation: only whether it loads matters here) and
 * reads its signature. A file that does not load comes back as a reason, with the temp path scrubbed.
 */
export async function inspectOnnxFile(path: string): Promise<OnnxInspection> {
  let header: Awaited<ReturnType<typeof readOnnxHeader>>;
  try {
    header = await readOnnxHeader(path);
  } catch (err) {
    if (err instanceof OnnxHeaderError)
      return { ok: false, reason: `Not a valid ONNX model: ${err.message}` };
    throw err;
  }
  let session: InferenceSession;
  try {
    session = await InferenceSession.create(path, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'disabled',
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      logSeverityLevel: 4,
    });
  } catch (err) {
    const message = (err instanceof Error ? err.message : String(err)).replaceAll(path, 'the model');
    return { ok: false, reason: `onnxruntime could not load the model: ${message}` };
  }
  try {
    return {
      ok: true,
      signature: {
        inputs: session.inputMetadata.map(describe),
        outputs: session.outputMetadata.map(describe),
        opset: defaultOpset(header),
        opsetImports: header.opsetImports,
        irVersion: header.irVersion,
        producer: { name: header.producerName, version: header.producerVersion },
      },
    };
  } finally {
    await session.release();
  }
}
