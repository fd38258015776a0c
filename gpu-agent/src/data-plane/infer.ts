import {
  decodeInferRequest,
  type EncodedBody,
  encodeInferResponse,
  type TensorToSend,
} from '@meridian/protocol';
import type { DeploymentMonitor } from '../monitoring/deployment-monitor.js';
import { selectOutputs, validateInputs } from '../onnx/validate.js';
import type { ServedModel } from './models.js';

/** How the edge's caller named the model (CALLER_MODEL_HEADERS): written into the answer instead of the ids. */
export type CallerNames = { name: string; version: string };

/** Timings of one served request, for the metrics. */
export type InferTiming = { queueUs: number; computeUs: number };

/**
 * Runs one OIP infer request against a model: decode (JSON or binary), check against the signature,
 * queue on the batcher, encode outputs as the request asked (binary per output or for all).
 */
export async function inferOip(
  model: ServedModel,
  body: Uint8Array,
  headerLength: number | undefined,
  monitor?: DeploymentMonitor,
  lowPriority = false,
  callerNames?: CallerNames,
): Promise<EncodedBody & InferTiming> {
  const { request, inputs } = decodeInferRequest(body, headerLength);
  const ordered = validateInputs(model.signature, inputs);
  // Before the batcher: a worker session may take the tensors' buffers.
  monitor?.sampleInputs(model.name, model.version, ordered);
  const names = selectOutputs(
    model.signature,
    request.outputs?.map((o) => o.name),
  );
  const allBinary = request.parameters?.binary_data_output === true;
  // The tensors view (or were copied from) this request's own body: a worker session may take them.
  const result = await model.batcher.infer(ordered, { transferInputs: true, lowPriority });
  const sends: TensorToSend[] = names.map((name) => {
    const index = model.signature.outputs.findIndex((o) => o.name === name);
    const tensor = result.outputs[index];
    if (tensor === undefined) throw new Error(`the model produced no '${name}'`);
    const asked = request.outputs?.find((o) => o.name === name)?.parameters?.binary_data;
    return { tensor, binary: asked === undefined ? allBinary : asked === true };
  });
  const meta = {
    model_name: callerNames?.name ?? model.name,
    model_version: callerNames?.version ?? model.version,
    ...(request.id ? { id: request.id } : {}),
  };
  return { ...encodeInferResponse(meta, sends), queueUs: result.queueUs, computeUs: result.computeUs };
}
