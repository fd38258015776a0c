import type { MeridianClient } from './client.js';
import { errorFromResponse } from './errors.js';
import { type RetryOptions, sendWithRetry } from './retry.js';
import { ARRAY_TYPES, type Datatype, type Tensor, tensorBytes, tensorValues } from './tensors.js';

export interface OipOutput {
  name: string;
  datatype: Datatype;
  shape: number[];
  data: number[];
}

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
  inputs: Tensor[],
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

export function encodeJson(inputs: Tensor[]): { body: string; headers: Record<string, string> } {
  const wire = inputs.map((t) => ({
    name: t.name,
    datatype: t.datatype,
    shape: t.shape,
    data: tensorValues(t),
  }));
  return { body: JSON.stringify({ inputs: wire }), headers: { 'content-type': 'application/json' } };
}

export function encodeBinary(inputs: Tensor[]): { body: Uint8Array; headers: Record<string, string> } {
  const chunks = inputs.map(tensorBytes);
  const header = new TextEncoder().encode(
    JSON.stringify({
      inputs: inputs.map((t, i) => ({
        name: t.name,
        datatype: t.datatype,
        shape: t.shape,
        parameters: { binary_data_size: chunks[i]?.byteLength ?? 0 },
      })),
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

type WireOutput = Omit<OipOutput, 'datatype' | 'data'> & {
  datatype: Datatype | 'BYTES';
  data?: number[];
  parameters?: { binary_data_size?: number };
};

/**
 * An OIP answer, JSON or binary (outputs' bytes after the JSON header), with every output as numbers (FP16
 * ones decoded from their half bits). A BYTES output in binary form is refused: ask for JSON.
 */
export function decodeResponse(bytes: Uint8Array, headerLength: string | null): OipResponse {
  const jsonEnd = headerLength === null ? bytes.byteLength : Number(headerLength);
  const json = JSON.parse(new TextDecoder().decode(bytes.subarray(0, jsonEnd))) as Omit<
    OipResponse,
    'outputs'
  > & {
    outputs: WireOutput[];
  };
  let at = jsonEnd;
  const outputs = json.outputs.map((o): OipOutput => {
    const size = o.parameters?.binary_data_size;
    // A JSON BYTES output passes through as the server wrote it (its elements strings).
    if (size === undefined)
      return { name: o.name, datatype: o.datatype as Datatype, shape: o.shape, data: o.data ?? [] };
    const { datatype } = o;
    if (datatype === 'BYTES')
      throw new Error(
        `Output '${o.name}' is BYTES: BYTES outputs are not supported in binary form; ask for JSON`,
      );
    const type = ARRAY_TYPES[datatype];
    if (!type) throw new Error(`Output '${o.name}' has datatype ${datatype}, which the SDK cannot decode`);
    const data = new type(bytes.slice(at, at + size).buffer as ArrayBuffer);
    at += size;
    return { name: o.name, datatype, shape: o.shape, data: tensorValues({ ...o, datatype, data }) };
  });
  return { ...json, outputs };
}
