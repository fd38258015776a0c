import { decodeBytesElements, elementCount, encodeBytesElements, TensorCodecError } from './bytes.js';
import type { MeridianClient } from './client.js';
import { errorFromResponse } from './errors.js';
import { type RetryOptions, sendWithRetry } from './retry.js';
import {
  ARRAY_TYPES,
  type BytesTensor,
  type Datatype,
  type Tensor,
  tensorBytes,
  tensorValues,
} from './tensors.js';

/** A numeric output: its values as numbers (FP16 decoded from its half bits, 64-bit integers rounded past 2^53). */
export interface OipNumericOutput {
  name: string;
  datatype: Datatype;
  shape: number[];
  data: number[];
}

/**
 * A BYTES output: one string per element, whether the answer came as JSON or binary (binary elements are
 * decoded as UTF-8, malformed sequences becoming U+FFFD as in the agent's JSON). Meridian's model servers
 * run ONNX, whose string tensors are text, so nothing is lost; `new TextEncoder().encode(s)` gives the bytes
 * (what tritonclient's binary outputs hold).
 */
export interface OipBytesOutput {
  name: string;
  datatype: 'BYTES';
  shape: number[];
  data: string[];
}

/** One output of an answer: narrow on `datatype === 'BYTES'` for the strings. */
export type OipOutput = OipNumericOutput | OipBytesOutput;

/** An input of `predict`: a numeric tensor, or a BYTES one of strings or Uint8Arrays. */
export type PredictInput = Tensor | BytesTensor;

export interface OipResponse {
  model_name?: string;
  model_version?: string;
  id?: string;
  outputs: OipOutput[];
}

/** Retries and cancellation: see RetryOptions (a broken connection or 502/503/504 is retried 3 times). */
export interface PredictOptions extends RetryOptions {
  /** Send tensors as OIP's binary extension (typed-array bytes after a JSON header) instead of JSON. */
  binary?: boolean;
  /** Pin a version (number or version id); default: the deployment's routing. */
  version?: string | number;
}

const HEADER_LENGTH = 'inference-header-content-length';

function edge(client: MeridianClient): string {
  if (!client.edgeUrl) throw new Error('No edge URL: pass edgeUrl to the client (or set MERIDIAN_EDGE_URL)');
  return client.edgeUrl;
}

/** An Open Inference Protocol v2 call through the edge: `POST /v2/models/{name}/infer`. */
export async function predict(
  client: MeridianClient,
  deployment: string,
  inputs: PredictInput[],
  options: PredictOptions = {},
): Promise<OipResponse> {
  const version =
    options.version === undefined ? '' : `/versions/${encodeURIComponent(String(options.version))}`;
  const url = `${edge(client)}/v2/models/${encodeURIComponent(deployment)}${version}/infer`;
  const { body, headers } = options.binary ? encodeBinary(inputs) : encodeJson(inputs);
  return predictRaw(client, url, body, headers, options);
}

/** Sends a ready OIP request body (JSON or binary, as its headers say) and decodes the answer. */
export async function predictRaw(
  client: MeridianClient,
  url: string,
  body: Uint8Array | string,
  headers: Record<string, string>,
  options: RetryOptions = {},
): Promise<OipResponse> {
  const res = await sendWithRetry(client, url, { method: 'POST', headers, body: body as BodyInit }, options);
  if (!res.ok) throw await errorFromResponse(res);
  return decodeResponse(new Uint8Array(await res.arrayBuffer()), res.headers.get(HEADER_LENGTH));
}

/**
 * Meridian's simple JSON predict through the edge: `{"inputs": {"x": [[…]]}}` → `{"outputs": {…}}`.
 * `deployment` is its name or id; the version is the deployment's routing (this route takes no pin: `predict`
 * with a version does).
 */
export async function predictSimple(
  client: MeridianClient,
  deployment: string,
  request: { inputs: Record<string, unknown> },
  options: RetryOptions = {},
): Promise<{ outputs: Record<string, unknown> }> {
  const res = await sendWithRetry(
    client,
    `${edge(client)}/v1/deployments/${encodeURIComponent(deployment)}/predict`,
    { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) },
    options,
  );
  if (!res.ok) throw await errorFromResponse(res);
  return (await res.json()) as { outputs: Record<string, unknown> };
}

/** A BYTES input's elements as JSON strings: a Uint8Array element must be UTF-8, JSON carries only text. */
function bytesAsText(tensor: BytesTensor): string[] {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  return tensor.data.map((element, i) => {
    if (typeof element === 'string') return element;
    if (!(element instanceof Uint8Array))
      throw new TensorCodecError(
        `Input '${tensor.name}': BYTES element ${i} is ${element === null ? 'null' : typeof element}, not a string or Uint8Array`,
      );
    try {
      return decoder.decode(element);
    } catch {
      throw new TensorCodecError(
        `Input '${tensor.name}': BYTES element ${i} is not UTF-8, which JSON cannot carry; send it with binary: true`,
      );
    }
  });
}

export function encodeJson(inputs: PredictInput[]): { body: string; headers: Record<string, string> } {
  const wire = inputs.map((t) => ({
    name: t.name,
    datatype: t.datatype,
    shape: t.shape,
    data: t.datatype === 'BYTES' ? bytesAsText(t) : tensorValues(t),
  }));
  return { body: JSON.stringify({ inputs: wire }), headers: { 'content-type': 'application/json' } };
}

/**
 * Tensors in OIP's binary extension; a BYTES input's elements each go as a 4-byte length and their bytes. The
 * outputs are asked for in binary form too (`binary_data_output`): the answer is as compact as the request.
 */
export function encodeBinary(inputs: PredictInput[]): { body: Uint8Array; headers: Record<string, string> } {
  const chunks = inputs.map((t) =>
    t.datatype === 'BYTES' ? encodeBytesElements(t.data, `Input '${t.name}'`) : tensorBytes(t),
  );
  const header = new TextEncoder().encode(
    JSON.stringify({
      inputs: inputs.map((t, i) => ({
        name: t.name,
        datatype: t.datatype,
        shape: t.shape,
        parameters: { binary_data_size: chunks[i]?.byteLength ?? 0 },
      })),
      parameters: { binary_data_output: true },
    }),
  );
  const body = new Uint8Array(header.byteLength + chunks.reduce((n, c) => n + c.byteLength, 0));
  body.set(header);
  let at = header.byteLength;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.byteLength;
  }
  return {
    body,
    headers: { 'content-type': 'application/octet-stream', [HEADER_LENGTH]: String(header.byteLength) },
  };
}

type WireOutput = {
  name: string;
  shape: number[];
  datatype: Datatype | 'BYTES';
  data?: number[] | string[];
  parameters?: { binary_data_size?: number };
};

/**
 * An OIP answer, JSON or binary (outputs' bytes after the JSON header): numeric outputs as numbers (FP16
 * ones decoded from their half bits), BYTES outputs as strings (see OipBytesOutput). A binary output that
 * runs past the end of the body, or a BYTES element truncated or too long, throws TensorCodecError.
 */
export function decodeResponse(bytes: Uint8Array, headerLength: string | null): OipResponse {
  const jsonEnd = headerLength === null ? bytes.byteLength : Number(headerLength);
  if (!Number.isSafeInteger(jsonEnd) || jsonEnd < 0 || jsonEnd > bytes.byteLength)
    throw new TensorCodecError(
      `The answer's ${HEADER_LENGTH} ${headerLength} is not a length within its ${bytes.byteLength} bytes`,
    );
  const json = JSON.parse(new TextDecoder().decode(bytes.subarray(0, jsonEnd))) as Omit<
    OipResponse,
    'outputs'
  > & {
    outputs: WireOutput[];
  };
  let at = jsonEnd;
  const outputs = json.outputs.map((o): OipOutput => {
    const size = o.parameters?.binary_data_size;
    // A JSON output passes through as the server wrote it (a BYTES one's elements strings already).
    if (size === undefined)
      return { name: o.name, datatype: o.datatype, shape: o.shape, data: o.data ?? [] } as OipOutput;
    const { datatype } = o;
    if (!Number.isSafeInteger(size) || size < 0 || size > bytes.byteLength - at)
      throw new TensorCodecError(
        `Output '${o.name}': binary_data_size ${size} runs past the end of the answer (${bytes.byteLength - at} bytes left)`,
      );
    const chunk = bytes.subarray(at, at + size);
    at += size;
    if (datatype === 'BYTES') {
      const what = `Output '${o.name}'`;
      const elements = decodeBytesElements(chunk, elementCount(o.shape, what), what);
      const decoder = new TextDecoder();
      return { name: o.name, datatype, shape: o.shape, data: elements.map((e) => decoder.decode(e)) };
    }
    const type = ARRAY_TYPES[datatype];
    if (!type) throw new Error(`Output '${o.name}' has datatype ${datatype}, which the SDK cannot decode`);
    if (size % type.BYTES_PER_ELEMENT !== 0)
      throw new TensorCodecError(
        `Output '${o.name}': binary_data_size ${size} is not a whole number of ${datatype} elements`,
      );
    const data = new type(chunk.slice().buffer as ArrayBuffer);
    return { name: o.name, datatype, shape: o.shape, data: tensorValues({ ...o, datatype, data }) };
  });
  return { ...json, outputs };
}
