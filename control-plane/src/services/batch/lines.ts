import { InferRequest } from '@meridian/protocol';

/** An input or output of the deployment's model, as its ONNX signature records it (-1: any size). */
export type InputSpec = { name: string; datatype: string; shape: number[] };

/** The deployment a job runs on, as its lines must name it. */
export type LineTarget = { deploymentId: string; name: string; inputs: InputSpec[] };

/** A line the job can send: the OIP request for the agent, and how to shape the answer. */
export type ValidLine = { ok: true; customId: string; simple: boolean; request: InferRequest };
/** A line that goes to the error file (or, when no line is valid, fails the job). */
export type FaultyLine = { ok: false; customId: string | null; code: string; message: string };
export type ParsedLine = ValidLine | FaultyLine;

const OIP_URL = /^\/v2\/models\/([^/]+)(?:\/versions\/[^/]+)?\/infer$/;
const SIMPLE_URL = /^\/v1\/deployments\/([^/]+)\/predict$/;
const MAX_CUSTOM_ID = 512;
const LINE_SHAPE =
  '{"custom_id": "…", "method": "POST", "url": "/v2/models/{name}/infer", "body": {"inputs": […]}}';

const fault = (customId: string | null, code: string, message: string): FaultyLine => ({
  ok: false,
  customId,
  code,
  message,
});

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The `custom_id` of a line that parsed as an object, whatever else is wrong with it. */
export function customIdOf(json: unknown): string | null {
  if (!isObject(json)) return null;
  const id = json.custom_id;
  return typeof id === 'string' && id.length >= 1 && id.length <= MAX_CUSTOM_ID ? id : null;
}

/**
 * Reads one JSONL line as OpenAI's Batch API shapes it (`custom_id`, `method`, `url`, `body`) and checks its
 * body against the deployment's inputs: names, datatypes, ranks, fixed dimensions and element counts. Pure:
 * the same line always gives the same answer, so a resumed job skips exactly what validation refused.
 */
export function parseLine(text: string, target: LineTarget): ParsedLine {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return fault(null, 'invalid_json', 'the line is not JSON');
  }
  if (!isObject(json)) return fault(null, 'invalid_line', 'the line must be a JSON object');
  // The likeliest first mistake: a file of bare request bodies, as the prediction endpoints take them.
  if (json.method === undefined && json.url === undefined && json.body === undefined)
    return fault(
      customIdOf(json),
      'invalid_line',
      `the line has no method, url or body; each line is a request: ${LINE_SHAPE}`,
    );
  const customId = customIdOf(json);
  if (customId === null)
    return fault(null, 'invalid_custom_id', `custom_id must be a string of 1 to ${MAX_CUSTOM_ID} characters`);
  if (json.method !== 'POST')
    return fault(
      customId,
      'invalid_method',
      json.method === undefined ? 'method is missing: it must be "POST"' : 'method must be "POST"',
    );
  if (typeof json.url !== 'string')
    return fault(
      customId,
      'invalid_url',
      'url must be /v2/models/{name}/infer or /v1/deployments/{name}/predict',
    );
  const oip = OIP_URL.exec(json.url);
  const simple = SIMPLE_URL.exec(json.url);
  const named = oip?.[1] ?? simple?.[1];
  if (named === undefined)
    return fault(
      customId,
      'invalid_url',
      'url must be /v2/models/{name}/infer or /v1/deployments/{name}/predict',
    );
  const name = safeDecode(named);
  if (name !== target.name && name !== target.deploymentId)
    return fault(
      customId,
      'wrong_deployment',
      `url names '${name.slice(0, 128)}'; this job runs '${target.name}'`,
    );
  if (!isObject(json.body)) return fault(customId, 'invalid_body', 'body must be a JSON object');
  const request = simple ? fromSimple(json.body, target.inputs) : fromOip(json.body);
  if ('message' in request) return fault(customId, 'invalid_body', request.message);
  const shapeFault = checkInputs(request, target.inputs);
  if (shapeFault) return fault(customId, 'invalid_input', shapeFault);
  return { ok: true, customId, simple: simple !== null, request };
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function fromOip(body: Record<string, unknown>): InferRequest | { message: string } {
  const parsed = InferRequest.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  return { message: `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'not an OIP infer request'}` };
}

/** `{"inputs": {"<name>": nested array}}` as the edge's simple predict route maps it onto OIP. */
function fromSimple(body: Record<string, unknown>, specs: InputSpec[]): InferRequest | { message: string } {
  const inputs = body.inputs;
  if (!isObject(inputs)) return { message: 'inputs must be an object of input name → array' };
  const known = new Map(specs.map((s) => [s.name, s]));
  const tensors: InferRequest['inputs'] = [];
  for (const [name, value] of Object.entries(inputs)) {
    const spec = known.get(name);
    if (!spec) return { message: `unknown input '${name.slice(0, 128)}'; the model takes ${names(specs)}` };
    const flat = flatten(value);
    if (!flat) return { message: `input '${name}' is not a rectangular array` };
    tensors.push({ name, datatype: spec.datatype as InferRequest['inputs'][number]['datatype'], ...flat });
  }
  if (tensors.length === 0) return { message: 'inputs is empty' };
  return { inputs: tensors };
}

function flatten(value: unknown): { shape: number[]; data: unknown[] } | undefined {
  if (!Array.isArray(value)) return { shape: [], data: [value] };
  const shape: number[] = [];
  for (let level: unknown = value; Array.isArray(level); level = level[0]) shape.push(level.length);
  const data: unknown[] = [];
  const walk = (node: unknown, depth: number): boolean => {
    if (depth === shape.length) {
      if (Array.isArray(node)) return false;
      data.push(node);
      return true;
    }
    if (!Array.isArray(node) || node.length !== shape[depth]) return false;
    return node.every((child) => walk(child, depth + 1));
  };
  return walk(value, 0) ? { shape, data } : undefined;
}

const names = (specs: InputSpec[]) => specs.map((s) => `'${s.name}'`).join(', ');

/** Elements of OIP `data`, nested or flat. */
function countElements(data: unknown[]): number {
  let n = 0;
  for (const item of data) n += Array.isArray(item) ? countElements(item) : 1;
  return n;
}

/** What the agent would refuse with 400, said before the line is sent; undefined when the inputs fit. */
export function checkInputs(request: InferRequest, specs: InputSpec[]): string | undefined {
  if (specs.length === 0) return undefined;
  const known = new Map(specs.map((s) => [s.name, s]));
  const seen = new Set<string>();
  for (const input of request.inputs) {
    const spec = known.get(input.name);
    if (!spec) return `unknown input '${input.name.slice(0, 128)}'; the model takes ${names(specs)}`;
    if (seen.has(input.name)) return `input '${input.name}' is given twice`;
    seen.add(input.name);
    if (spec.datatype !== input.datatype)
      return `input '${input.name}' is ${spec.datatype}, not ${input.datatype}`;
    if (spec.shape.length !== input.shape.length || spec.shape.some((d, i) => d >= 0 && d !== input.shape[i]))
      return `input '${input.name}' has shape [${input.shape.join(',')}]; the model takes [${spec.shape.join(',')}] (-1: any size)`;
    const expected = input.shape.reduce((n, d) => n * d, 1);
    if (input.data === undefined) return `input '${input.name}' has no data`;
    const got = countElements(input.data);
    if (got !== expected)
      return `input '${input.name}' has ${got} elements; shape [${input.shape.join(',')}] holds ${expected}`;
  }
  const missing = specs.filter((s) => !seen.has(s.name));
  if (missing.length > 0) return `missing input ${names(missing)}`;
  return undefined;
}
