import { z } from 'zod';
import { OipDatatype } from './datatypes.js';

/** OIP `parameters`: a flat map of scalars. */
export const OipParameters = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]));
export type OipParameters = z.infer<typeof OipParameters>;

const Dim = z.number().int().nonnegative();
const Name = z.string().min(1).max(256);
// Elements are checked while they are converted to typed arrays: a zod pass over a 30,000-element array
// would cost as much as the inference it feeds.
const JsonData = z.array(z.unknown());

/** One input tensor of an infer request; `data` is absent when the tensor travels as binary. */
export const InferRequestInput = z.object({
  name: Name,
  shape: z.array(Dim).max(16),
  datatype: OipDatatype,
  parameters: OipParameters.optional(),
  data: JsonData.optional(),
});
export type InferRequestInput = z.infer<typeof InferRequestInput>;

/** One requested output; `parameters.binary_data` asks for it as binary. */
export const InferRequestOutput = z.object({ name: Name, parameters: OipParameters.optional() });
export type InferRequestOutput = z.infer<typeof InferRequestOutput>;

/** `POST /v2/models/{m}/infer` body (the JSON part when the binary extension is used). */
export const InferRequest = z.object({
  id: z.string().max(256).optional(),
  parameters: OipParameters.optional(),
  inputs: z.array(InferRequestInput).min(1).max(64),
  outputs: z.array(InferRequestOutput).max(64).optional(),
});
export type InferRequest = z.infer<typeof InferRequest>;

/** One output tensor of an infer response. */
export const InferResponseOutput = z.object({
  name: z.string(),
  shape: z.array(Dim),
  datatype: OipDatatype,
  parameters: OipParameters.optional(),
  data: JsonData.optional(),
});
export type InferResponseOutput = z.infer<typeof InferResponseOutput>;

/** Infer response body (the JSON part when the binary extension is used). */
export const InferResponse = z.object({
  model_name: z.string(),
  model_version: z.string().optional(),
  id: z.string().optional(),
  parameters: OipParameters.optional(),
  outputs: z.array(InferResponseOutput),
});
export type InferResponse = z.infer<typeof InferResponse>;

/** A tensor in model metadata: -1 marks a dimension of variable size. */
export const TensorMetadata = z.object({
  name: z.string(),
  datatype: OipDatatype,
  shape: z.array(z.number().int().min(-1)),
});
export type TensorMetadata = z.infer<typeof TensorMetadata>;

/** `GET /v2/models/{m}[/versions/{v}]`. */
export const ModelMetadata = z.object({
  name: z.string(),
  versions: z.array(z.string()).optional(),
  platform: z.string(),
  inputs: z.array(TensorMetadata),
  outputs: z.array(TensorMetadata),
});
export type ModelMetadata = z.infer<typeof ModelMetadata>;

/** `GET /v2`. */
export const ServerMetadata = z.object({
  name: z.string(),
  version: z.string(),
  extensions: z.array(z.string()),
});
export type ServerMetadata = z.infer<typeof ServerMetadata>;

/** Every OIP error: `{"error": "…"}`. */
export const OipError = z.object({ error: z.string() });
export type OipError = z.infer<typeof OipError>;

/** The header that says how many leading body bytes are JSON when the binary extension is used. */
export const INFERENCE_HEADER_CONTENT_LENGTH = 'inference-header-content-length';

/** `batch` on a call to an agent: its batcher serves the real-time calls queued beside it first (issue 16). */
export const PRIORITY_HEADER = 'x-meridian-priority';

/**
 * How the edge's caller named the model (deployment name, version number), sent with an infer call: the
 * agent writes them as the answer's `model_name` and `model_version` and says so with CALLER_NAMED_HEADER,
 * so the edge streams the answer through instead of rewriting it (an agent that does not still gets it
 * rewritten). Not signed: they change only the labels of the answer, which the edge would set anyway.
 */
export const CALLER_MODEL_HEADERS = {
  name: 'x-meridian-model-name',
  version: 'x-meridian-model-version',
} as const;
export const CALLER_NAMED_HEADER = 'x-meridian-named';

/**
 * On an agent's 503: the replica itself cannot serve now (its model server cannot be reached, its model's
 * worker died and is starting again), not its load. The edge holds such a call, retrying, until the replica
 * serves again or routing shows it replaced; a 503 without it (a full queue) is answered at once.
 */
export const REPLICA_DOWN_HEADER = 'x-meridian-replica-down';
