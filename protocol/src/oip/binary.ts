import { elementCount, type Tensor } from './datatypes.js';
import { checkInferRequest } from './infer-request-check.js';
import { checkedData, decodeJsonData } from './json-data.js';
import { jsonWithArrays, largeNumericData, type NumericData } from './json-encode.js';
import { type DataSpan, scanTensorJson } from './json-request.js';
import { InferRequest, type InferRequestOutput, InferResponse, type OipParameters } from './schemas.js';
import { OipCodecError, tensorFromBytes, tensorFromJson, tensorToBytes, tensorToJson } from './tensor.js';
import { bytesToText, textToBytes } from './text.js';

/** A body ready to send: set `Inference-Header-Content-Length` when `headerLength` is defined. */
export type EncodedBody = { body: Uint8Array<ArrayBuffer>; headerLength: number | undefined };

/** A tensor to encode, and whether it travels as binary after the JSON header. */
export type TensorToSend = { tensor: Tensor; binary: boolean; parameters?: OipParameters };

type WireTensor = {
  name: string;
  datatype: Tensor['datatype'];
  shape: number[];
  parameters?: OipParameters | undefined;
  data?: unknown[] | undefined;
};

/** A tensor being written: a large numeric `data` stays a typed array until `jsonWithArrays` prints it. */
type OutgoingTensor = Omit<WireTensor, 'data'> & { data?: unknown[] | NumericData };

type JsonPart = { json: unknown; rest: Uint8Array; body: Uint8Array; spans: (DataSpan | undefined)[] };

/**
 * The JSON part of a body, parsed without its tensors' `data` arrays (decoded from the bytes later, see
 * json-data.ts), and the binary part after it.
 */
function splitHeader(
  body: Uint8Array,
  headerLength: number | undefined,
  listKey: 'inputs' | 'outputs',
): JsonPart {
  // Without the binary extension the whole body is the JSON: an empty one has no header length to blame.
  if (headerLength === undefined && body.byteLength === 0)
    throw new OipCodecError(
      'the body is empty: an infer request is a JSON document such as {"inputs": [...]}',
    );
  const jsonEnd = headerLength ?? body.byteLength;
  if (!Number.isSafeInteger(jsonEnd) || jsonEnd <= 0 || jsonEnd > body.byteLength)
    throw new OipCodecError(
      `Inference-Header-Content-Length ${String(headerLength)} does not fit a body of ${body.byteLength} bytes`,
    );
  const scanned = scanTensorJson(body, jsonEnd, listKey);
  let json: unknown;
  try {
    json = JSON.parse(scanned ? scanned.skeleton : bytesToText(body.subarray(0, jsonEnd)));
  } catch {
    throw new OipCodecError('the JSON part of the body is not valid JSON');
  }
  return { json, rest: body.subarray(jsonEnd), body, spans: scanned?.spans ?? [] };
}

const sameShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/** A tensor whose `data` array was cut out of the JSON: decoded while scanning when it could be, else now. */
function tensorFromSpan(body: Uint8Array, span: DataSpan, entry: WireTensor): Tensor {
  const { name, datatype, shape } = entry;
  const count = elementCount(shape);
  const early = span.decoded;
  const decoded =
    early && early.datatype === datatype && sameShape(early.shape, shape)
      ? early.data
      : decodeJsonData(body, span.start, span.end, datatype, count);
  return { name, datatype, shape, data: checkedData(decoded, name, datatype, shape, count) };
}

function readTensors(entries: WireTensor[], part: JsonPart, side: string): Tensor[] {
  const { rest, spans } = part;
  let at = 0;
  const tensors = entries.map((entry, index) => {
    const size = entry.parameters?.binary_data_size;
    if (size === undefined) {
      if (entry.data === undefined)
        throw new OipCodecError(`${side} '${entry.name}' has neither data nor binary_data_size`);
      const span = spans[index];
      if (span) return tensorFromSpan(part.body, span, entry);
      return tensorFromJson(entry.name, entry.datatype, entry.shape, entry.data);
    }
    if (entry.data !== undefined)
      throw new OipCodecError(`${side} '${entry.name}' has both data and binary_data_size`);
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
      throw new OipCodecError(`${side} '${entry.name}': binary_data_size must be a non-negative integer`);
    if (at + size > rest.byteLength)
      throw new OipCodecError(
        `${side} '${entry.name}': binary_data_size ${size} runs past the end of the body (${rest.byteLength - at} bytes left)`,
      );
    const tensor = tensorFromBytes(entry.name, entry.datatype, entry.shape, rest.subarray(at, at + size));
    at += size;
    return tensor;
  });
  if (at !== rest.byteLength)
    throw new OipCodecError(`${rest.byteLength - at} bytes follow the last binary tensor`);
  return tensors;
}

function encode(json: Record<string, unknown>, key: string, items: TensorToSend[]): EncodedBody {
  const binaries: Uint8Array[] = [];
  let arrays = false;
  const wires = items.map(({ tensor, binary, parameters }) => {
    const wire: OutgoingTensor = { name: tensor.name, datatype: tensor.datatype, shape: tensor.shape };
    if (binary) {
      const bytes = tensorToBytes(tensor);
      binaries.push(bytes);
      wire.parameters = { ...parameters, binary_data_size: bytes.byteLength };
      return wire;
    }
    if (parameters) wire.parameters = parameters;
    // A large output is printed from its typed array in chunks (json-encode.ts), never copied to a number[].
    const large = largeNumericData(tensor);
    arrays ||= large !== undefined;
    wire.data = large ?? tensorToJson(tensor);
    return wire;
  });
  // `json` is the caller's own copy of the request or response fields (encodeInfer*), so the list goes in it.
  json[key] = wires;
  const header = arrays ? jsonWithArrays(json, key, wires) : textToBytes(JSON.stringify(json));
  if (binaries.length === 0) return { body: header, headerLength: undefined };
  const body = new Uint8Array(binaries.reduce((n, b) => n + b.byteLength, header.byteLength));
  body.set(header);
  let at = header.byteLength;
  for (const b of binaries) {
    body.set(b, at);
    at += b.byteLength;
  }
  return { body, headerLength: header.byteLength };
}

/** A parsed infer request and its input tensors, in request order. */
export type DecodedInferRequest = { request: InferRequest; inputs: Tensor[] };

/** Parses an infer request body, JSON or JSON + binary tensors (`headerLength` from the header). */
export function decodeInferRequest(body: Uint8Array, headerLength?: number): DecodedInferRequest {
  const part = splitHeader(body, headerLength, 'inputs');
  const request = checkInferRequest(part.json) ?? parseWithZod(part.json);
  return { request, inputs: readTensors(request.inputs, part, 'input') };
}

function parseWithZod(json: unknown): InferRequest {
  const parsed = InferRequest.safeParse(json);
  if (!parsed.success) throw new OipCodecError(`invalid infer request: ${describeIssue(parsed.error)}`);
  return parsed.data;
}

/** Encodes an infer request (clients, the edge, tests). */
export function encodeInferRequest(
  meta: { id?: string; parameters?: OipParameters; outputs?: InferRequestOutput[] },
  inputs: TensorToSend[],
): EncodedBody {
  return encode({ ...meta }, 'inputs', inputs);
}

/** A parsed infer response and its output tensors, in response order. */
export type DecodedInferResponse = { response: InferResponse; outputs: Tensor[] };

/** Parses an infer response body (clients, the edge, tests). */
export function decodeInferResponse(body: Uint8Array, headerLength?: number): DecodedInferResponse {
  const part = splitHeader(body, headerLength, 'outputs');
  const parsed = InferResponse.safeParse(part.json);
  if (!parsed.success) throw new OipCodecError(`invalid infer response: ${describeIssue(parsed.error)}`);
  return { response: parsed.data, outputs: readTensors(parsed.data.outputs, part, 'output') };
}

/** Encodes an infer response; outputs marked binary follow the JSON header. */
export function encodeInferResponse(
  meta: { model_name: string; model_version?: string; id?: string; parameters?: OipParameters },
  outputs: TensorToSend[],
): EncodedBody {
  return encode({ ...meta }, 'outputs', outputs);
}

function describeIssue(error: { issues: { path: PropertyKey[]; message: string }[] }): string {
  const issue = error.issues[0];
  if (!issue) return 'unknown problem';
  const path = issue.path.map(String).join('.');
  return path ? `${path}: ${issue.message}` : issue.message;
}
