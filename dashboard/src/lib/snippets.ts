import type { Schema } from '@meridian/sdk';

type Signature = Schema<'OnnxSignature'>;
type TensorSpec = Schema<'TensorSpec'>;

const NUMPY: Record<string, string> = {
  FP32: 'np.float32',
  FP64: 'np.float64',
  INT64: 'np.int64',
  INT32: 'np.int32',
  INT8: 'np.int8',
  UINT8: 'np.uint8',
  BOOL: 'np.bool_',
};

/**
 * Up to this many values in all, the request is written out in the snippet; above it, a one-liner builds it
 * (an image's 150,528 zeros would not fit a command line a person reads, and a shortened list is refused).
 */
export const INLINE_VALUES = 32;

/** A word for the shell, in single quotes (a quote inside ends them, is escaped, and opens them again). */
const shellWord = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;

/** The zero of an OIP datatype in JSON: BOOL takes true / false and BYTES strings, not numbers. */
const zeroOf = (datatype: string): unknown => (datatype === 'BOOL' ? false : datatype === 'BYTES' ? '' : 0);

/** Copy-paste calls of a deployment through the edge: curl (OIP JSON), the CLI, Python's tritonclient. */
export function snippetsFor(edgeUrl: string, name: string, signature: Signature) {
  const inputs = (signature?.inputs ?? []).map((t) => ({ ...t, shape: t.shape.map((d) => (d < 0 ? 1 : d)) }));
  const count = (shape: number[]) => shape.reduce((n, d) => n * d, 1);
  const inline = inputs.reduce((n, t) => n + count(t.shape), 0) <= INLINE_VALUES;
  const head = (t: TensorSpec) =>
    `"name": ${JSON.stringify(t.name)}, "datatype": ${JSON.stringify(t.datatype)}, "shape": ${JSON.stringify(t.shape)}`;
  // Every value of every input (zeros), in JSON, or built by Python (for curl) or Node.js (for the CLI).
  const body = JSON.stringify({
    inputs: inputs.map((t) => ({
      name: t.name,
      datatype: t.datatype,
      shape: t.shape,
      data: Array.from({ length: count(t.shape) }, () => zeroOf(t.datatype)),
    })),
  });
  const python = (t: TensorSpec) =>
    `{${head(t)}, "data": [${t.datatype === 'BOOL' ? 'False' : JSON.stringify(zeroOf(t.datatype))}] * ${count(t.shape)}}`;
  const node = (t: TensorSpec) =>
    `{${head(t)}, "data": Array(${count(t.shape)}).fill(${JSON.stringify(zeroOf(t.datatype))})}`;
  const byPython = `python3 -c ${shellWord(`import json; print(json.dumps({"inputs": [${inputs.map(python).join(', ')}]}))`)}`;
  const byNode = `node -e ${shellWord(`console.log(JSON.stringify({ inputs: [${inputs.map(node).join(', ')}] }))`)}`;
  const note = inline
    ? ''
    : '# A request of zeros in the model’s shapes; put your values in "data", row-major.\n';
  const host = new URL(edgeUrl || 'http://127.0.0.1:8787');
  const url = `${edgeUrl}/v2/models/${name}/infer`;
  const headers = '  -H "Authorization: Bearer $MERIDIAN_API_KEY" -H "content-type: application/json" \\\n';
  const curl = inline
    ? `curl -s ${url} \\\n${headers}  -d ${shellWord(body)}`
    : `${note}${byPython} \\\n  | curl -s ${url} \\\n${headers}  --data-binary @-`;
  const cli =
    `export MERIDIAN_TOKEN=$MERIDIAN_API_KEY MERIDIAN_EDGE_URL=${edgeUrl}\n` +
    note +
    `${inline ? `echo ${shellWord(body)}` : byNode} | npx meridian predict ${name} --data -\n` +
    `# or a NumPy array in input.npy, sent as binary OIP:\n` +
    `# npx meridian predict ${name} --input ${inputs[0]?.name ?? 'x'}=@input.npy`;
  const python3 = [
    'import os',
    'import numpy as np',
    'import tritonclient.http as http',
    '',
    `client = http.InferenceServerClient("${host.host}"${host.protocol === 'https:' ? ', ssl=True' : ''})`,
    'headers = {"Authorization": f"Bearer {os.environ[\'MERIDIAN_API_KEY\']}"}',
    'inputs = []',
    ...inputs.flatMap((t) => [
      `x = np.zeros(${JSON.stringify(t.shape).replace('[', '(').replace(']', ')')}, dtype=${NUMPY[t.datatype] ?? 'np.float32'})`,
      `inputs.append(http.InferInput("${t.name}", x.shape, "${t.datatype}"))`,
      'inputs[-1].set_data_from_numpy(x)',
    ]),
    `result = client.infer("${name}", inputs, headers=headers)`,
    ...(signature?.outputs ?? []).map((o) => `print(result.as_numpy("${o.name}"))`),
  ].join('\n');
  return { curl, cli, python: python3 };
}
