import * as ort from 'onnxruntime-node';
import { REAL_MODELS } from '../../control-plane/src/onnx/test-models.js';

/** The PaddleOCR classifier's input as the batch tests send it: 1×3×48×8. */
export const SHAPE: readonly number[] = [1, 3, 48, 8];
const SIZE = 3 * 48 * 8;

/** Line i's input: small integers (short in JSON), different for every line. */
export function inputOf(i: number): number[] {
  return Array.from({ length: SIZE }, (_, j) => ((i * 31 + j * 7) % 17) - 8);
}

/** Nests a flat 1×3×48×8 input for the simple predict route. */
function nested(data: number[]): number[][][][] {
  const c = 3;
  const h = 48;
  const w = 8;
  return [
    Array.from({ length: c }, (_, ci) =>
      Array.from({ length: h }, (_, hi) => data.slice((ci * h + hi) * w, (ci * h + hi + 1) * w)),
    ),
  ];
}

/** A fault planted in a line, and the words its error line must hold. */
export type Fault = { kind: 'json' | 'name' | 'shape' | 'datatype'; expect: string };
const FAULTS: Fault[] = [
  { kind: 'json', expect: 'not JSON' },
  { kind: 'name', expect: "unknown input 'y'" },
  { kind: 'shape', expect: 'has shape [1,4,48,6]' },
  { kind: 'datatype', expect: 'is FP32, not INT64' },
];

/**
 * `count` JSONL lines for deployment `name`: every tenth line through the simple predict route, the rest as
 * OIP; the lines at `badAt` carry one of four faults in turn. custom_id is `req-<i>`.
 */
export function batchLines(name: string, count: number, badAt: ReadonlySet<number> = new Set()) {
  const faults = new Map<number, Fault>();
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const data = inputOf(i);
    const customId = `req-${i}`;
    if (badAt.has(i)) {
      const fault = FAULTS[faults.size % FAULTS.length] as Fault;
      faults.set(i, fault);
      const tensor = { name: 'x', datatype: 'FP32', shape: [...SHAPE], data };
      if (fault.kind === 'name') tensor.name = 'y';
      if (fault.kind === 'shape') tensor.shape = [1, 4, 48, 6];
      if (fault.kind === 'datatype') tensor.datatype = 'INT64';
      const text = JSON.stringify({
        custom_id: customId,
        method: 'POST',
        url: `/v2/models/${name}/infer`,
        body: { inputs: [tensor] },
      });
      lines.push(fault.kind === 'json' ? text.slice(0, 60) : text);
      continue;
    }
    const simple = i % 10 === 0;
    lines.push(
      JSON.stringify({
        custom_id: customId,
        method: 'POST',
        url: simple ? `/v1/deployments/${name}/predict` : `/v2/models/${name}/infer`,
        body: simple
          ? { inputs: { x: nested(data) } }
          : { inputs: [{ name: 'x', datatype: 'FP32', shape: [...SHAPE], data }] },
      }),
    );
  }
  return { text: `${lines.join('\n')}\n`, faults };
}

/** onnxruntime's own answer for line i: the classifier's two scores. */
export async function referenceScores(indices: number[]): Promise<Map<number, number[]>> {
  const session = await ort.InferenceSession.create(REAL_MODELS.paddleCls);
  const input = session.inputNames[0] ?? 'x';
  const output = session.outputNames[0] ?? '';
  const scores = new Map<number, number[]>();
  for (const i of indices) {
    const result = await session.run({
      [input]: new ort.Tensor('float32', Float32Array.from(inputOf(i)), [...SHAPE]),
    });
    scores.set(i, Array.from(result[output]?.data as Float32Array));
  }
  await session.release();
  return scores;
}

/** The numbers of an output line's answer, whichever route the line named. */
export function scoresOf(response: { body: { outputs: unknown } }): number[] {
  const outputs = response.body.outputs;
  const first = Array.isArray(outputs)
    ? (outputs[0] as { data: number[] }).data
    : Object.values(outputs as Record<string, unknown>)[0];
  return (first as unknown[]).flat(4) as number[];
}
