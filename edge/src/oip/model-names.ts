/** How the agent names a served model, and how the caller named it. */
export interface ModelNames {
  deploymentId: string;
  versionId: string;
  /** The deployment's name in its org: `{name}` of `/v2/models/{name}`. */
  name: string;
  /** The version's number within its model. */
  version: number;
}

/** An infer answer: its body and, for the binary extension, the length of its JSON header. */
export interface InferAnswer {
  body: Uint8Array;
  headerLength: string | undefined;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The answer with `model_name` and `model_version` as the caller used them (deployment name, version
 * number) instead of the agent's ids. Only the JSON header changes: binary tensors after it are kept as
 * they are and the header length is set to the new header's. The agent writes both fields first, so the
 * usual case swaps a byte prefix without parsing the outputs; any other JSON header is parsed and written
 * again. A header that is not a JSON object is left alone.
 */
export function nameInferAnswer(answer: InferAnswer, names: ModelNames): InferAnswer {
  const { body, headerLength } = answer;
  const jsonEnd = headerLength === undefined ? body.byteLength : Number(headerLength);
  if (!Number.isSafeInteger(jsonEnd) || jsonEnd <= 0 || jsonEnd > body.byteLength) return answer;
  const header = body.subarray(0, jsonEnd);
  const renamed = swapPrefix(header, names) ?? rewrite(header, names);
  if (renamed === undefined) return answer;
  if (headerLength === undefined) return { body: renamed, headerLength };
  const out = new Uint8Array(renamed.byteLength + body.byteLength - jsonEnd);
  out.set(renamed, 0);
  out.set(body.subarray(jsonEnd), renamed.byteLength);
  return { body: out, headerLength: String(renamed.byteLength) };
}

function swapPrefix(header: Uint8Array, names: ModelNames): Uint8Array | undefined {
  const agents = encoder.encode(
    `{"model_name":${JSON.stringify(names.deploymentId)},"model_version":${JSON.stringify(names.versionId)}`,
  );
  if (header.byteLength < agents.byteLength) return undefined;
  for (let i = 0; i < agents.byteLength; i++) if (header[i] !== agents[i]) return undefined;
  const callers = encoder.encode(
    `{"model_name":${JSON.stringify(names.name)},"model_version":${JSON.stringify(String(names.version))}`,
  );
  const out = new Uint8Array(callers.byteLength + header.byteLength - agents.byteLength);
  out.set(callers, 0);
  out.set(header.subarray(agents.byteLength), callers.byteLength);
  return out;
}

function rewrite(header: Uint8Array, names: ModelNames): Uint8Array | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(header));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  // Later keys win: the caller's names replace the agent's ids, in their place.
  const named = { ...parsed, model_name: names.name, model_version: String(names.version) };
  return encoder.encode(JSON.stringify(named));
}

/**
 * A metadata or readiness answer (`{"name": …}`) naming the deployment as the caller did; metadata also
 * lists the deployment's version numbers. Undefined when the body is not a JSON object.
 */
export function nameModelDescription(
  body: Uint8Array,
  name: string,
  versions?: number[],
): Record<string, unknown> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(body));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  return { ...parsed, name, ...(versions ? { versions: versions.map(String) } : {}) };
}
