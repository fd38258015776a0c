import { OipDatatype } from './datatypes.js';
import type { InferRequest, InferRequestInput, InferRequestOutput, OipParameters } from './schemas.js';

/**
 * The InferRequest schema's checks written out by hand, for the data plane's hot path: zod's parse of a
 * small request cost as much as decoding it (~3 µs of a small model's ~60 µs of agent work, measured with
 * bench/agent-serving.ts). Returns what `InferRequest.parse` returns (unknown keys dropped) for a request
 * it is sure zod accepts, else undefined: the caller then asks zod, which accepts or says what is wrong,
 * so the schema stays the one authority (infer-request-check.test.ts compares the two).
 */
export function checkInferRequest(json: unknown): InferRequest | undefined {
  if (!isObject(json)) return undefined;
  const { id, parameters, inputs, outputs } = json;
  if (id !== undefined && !(typeof id === 'string' && id.length <= 256)) return undefined;
  if (!Array.isArray(inputs) || inputs.length < 1 || inputs.length > 64) return undefined;
  if (outputs !== undefined && !(Array.isArray(outputs) && outputs.length <= 64)) return undefined;
  const params = parametersOf(parameters);
  if (params === INVALID) return undefined;
  const checkedInputs: InferRequestInput[] = [];
  for (const input of inputs) {
    const checked = checkInput(input);
    if (checked === undefined) return undefined;
    checkedInputs.push(checked);
  }
  const request: InferRequest = { inputs: checkedInputs };
  if (id !== undefined) request.id = id;
  if (params !== undefined) request.parameters = params;
  if (outputs !== undefined) {
    const checkedOutputs: InferRequestOutput[] = [];
    for (const output of outputs) {
      if (!isObject(output) || !isName(output.name)) return undefined;
      const p = parametersOf(output.parameters);
      if (p === INVALID) return undefined;
      checkedOutputs.push(p === undefined ? { name: output.name } : { name: output.name, parameters: p });
    }
    request.outputs = checkedOutputs;
  }
  return request;
}

const INVALID = Symbol('invalid');
const DATATYPES = new Set<string>(OipDatatype.options);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isName(value: unknown): value is string {
  return typeof value === 'string' && value.length >= 1 && value.length <= 256;
}

function parametersOf(value: unknown): OipParameters | undefined | typeof INVALID {
  if (value === undefined) return undefined;
  if (!isObject(value) || Object.getPrototypeOf(value) !== Object.prototype) return INVALID;
  const out: OipParameters = {};
  for (const key of Object.keys(value)) {
    // JSON.parse makes "__proto__" an own key; assigning it would not copy it: zod decides.
    if (key === '__proto__') return INVALID;
    const v = value[key];
    if (typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)))
      out[key] = v;
    else return INVALID;
  }
  return out;
}

function checkInput(value: unknown): InferRequestInput | undefined {
  if (!isObject(value)) return undefined;
  const { name, shape, datatype, parameters, data } = value;
  if (!isName(name) || typeof datatype !== 'string' || !DATATYPES.has(datatype)) return undefined;
  if (!Array.isArray(shape) || shape.length > 16) return undefined;
  for (const d of shape) if (!(Number.isSafeInteger(d) && d >= 0)) return undefined;
  if (data !== undefined && !Array.isArray(data)) return undefined;
  const p = parametersOf(parameters);
  if (p === INVALID) return undefined;
  const input: InferRequestInput = { name, shape: shape as number[], datatype: datatype as OipDatatype };
  if (p !== undefined) input.parameters = p;
  if (data !== undefined) input.data = data as unknown[];
  return input;
}
