import type { Schema } from '@meridian/sdk';

type Signature = Schema<'OnnxSignature'>;

const NUMPY: Record<string, string> = {
  FP32: 'np.float32',
  FP64: 'np.float64',
  INT64: 'np.int64',
  INT32: 'np.int32',
  INT8: 'np.int8',
  UINT8: 'np.uint8',
  BOOL: 'np.bool_',
};

/** Copy-paste calls of a deployment through the edge: curl (OIP JSON), the CLI, Python's tritonclient. */
export function snippetsFor(edgeUrl: string, name: string, signature: Signature) {
  const inputs = (signature?.inputs ?? []).map((t) => ({ ...t, shape: t.shape.map((d) => (d < 0 ? 1 : d)) }));
  const count = (shape: number[]) => shape.reduce((n, d) => n * d, 1);
  const body = {
    inputs: inputs.map((t) => ({
      name: t.name,
      datatype: t.datatype,
      shape: t.shape,
      data: Array.from({ length: Math.min(count(t.shape), 4) }, () => 0),
    })),
  };
  const note = inputs.some((t) => count(t.shape) > 4)
    ? '# data must hold one value per element of shape\n'
    : '';
  const host = new URL(edgeUrl || 'http://127.0.0.1:8787');
  const curl =
    `${note}curl -s ${edgeUrl}/v2/models/${name}/infer \\\n` +
    '  -H "Authorization: Bearer $MERIDIAN_API_KEY" -H "content-type: application/json" \\\n' +
    `  -d '${JSON.stringify(body)}'`;
  const cli =
    `export MERIDIAN_TOKEN=$MERIDIAN_API_KEY MERIDIAN_EDGE_URL=${edgeUrl}\n` +
    `npx meridian predict ${name} --data input.json   # input.json: the curl body above\n` +
    `npx meridian predict ${name} --input ${inputs[0]?.name ?? 'x'}=@input.npy   # a NumPy array, binary OIP`;
  const python = [
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
  return { curl, cli, python };
}
