/**
 * The cost of writing an OIP JSON answer with large outputs, as the agent does for a client that asks for JSON
 * (the KServe v2 REST client, curl): `encodeInferResponse` beside the one-shot way it used to print them
 * (`JSON.stringify` of the whole document with `Array.from` of each output, then its UTF-8 bytes) and beside
 * `JSON.parse` of the same text (what reading it costs the client). Medians of alternating runs in one process.
 *   npx tsx bench/oip-json-encode.ts [--runs 15]
 */
import { parseArgs } from 'node:util';
import { encodeInferResponse, type Tensor, tensorToJson } from '@meridian/protocol';

const { values: flags } = parseArgs({ options: { runs: { type: 'string', default: '15' } } });
const RUNS = Number(flags.runs);

/** Outputs a served model gives: a segmentation mask's sigmoid map, a detector's boxes, the classifier's pair. */
function tensor(name: string, shape: number[], value: (i: number) => number): Tensor {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = value(i);
  return { name, datatype: 'FP32', shape, data };
}
const CASES: { label: string; outputs: Tensor[] }[] = [
  {
    label: 'mask 1×1×640×640',
    outputs: [tensor('mask', [1, 1, 640, 640], (i) => 1 / (1 + Math.exp(-6 * Math.sin(i * 0.37))))],
  },
  { label: 'boxes 1×8400×84', outputs: [tensor('boxes', [1, 8400, 84], (i) => (i % 97) * 6.5871 + 0.013)] },
  { label: 'cls 1×2', outputs: [tensor('softmax', [1, 2], (i) => (i === 0 ? 0.98712 : 0.01288))] },
];

function oneShot(outputs: Tensor[]): Uint8Array {
  const list = outputs.map((t) => ({
    name: t.name,
    datatype: t.datatype,
    shape: t.shape,
    data: tensorToJson(t),
  }));
  return new TextEncoder().encode(JSON.stringify({ model_name: 'm', model_version: '1', outputs: list }));
}

const chunked = (outputs: Tensor[]) =>
  encodeInferResponse(
    { model_name: 'm', model_version: '1' },
    outputs.map((t) => ({ tensor: t, binary: false })),
  ).body;

function timeMs(fn: () => unknown, repeat: number): number {
  const start = performance.now();
  for (let i = 0; i < repeat; i++) fn();
  return (performance.now() - start) / repeat;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const ms = (x: number) => (x < 1 ? `${(x * 1000).toFixed(1)} µs` : `${x.toFixed(2)} ms`);

console.log(`OIP JSON answer encode: medians of ${RUNS} alternating runs, node ${process.version}`);
for (const { label, outputs } of CASES) {
  const bytes = chunked(outputs);
  if (Buffer.compare(Buffer.from(bytes), Buffer.from(oneShot(outputs))) !== 0)
    throw new Error(`${label}: the chunked encoder's bytes differ from JSON.stringify's`);
  const text = new TextDecoder().decode(bytes);
  // Small answers repeat within a run so that the clock sees more than its resolution.
  const repeat = bytes.byteLength < 100_000 ? 2000 : 1;
  const times = { chunked: [] as number[], oneShot: [] as number[], parse: [] as number[] };
  for (let run = 0; run < RUNS + 2; run++) {
    const c = timeMs(() => chunked(outputs), repeat);
    const o = timeMs(() => oneShot(outputs), repeat);
    const p = timeMs(() => JSON.parse(text), repeat);
    if (run < 2) continue; // warm-up
    times.chunked.push(c);
    times.oneShot.push(o);
    times.parse.push(p);
  }
  const [c, o, p] = [median(times.chunked), median(times.oneShot), median(times.parse)];
  console.log(
    `${label.padEnd(18)} ${(bytes.byteLength / 1e6).toFixed(2).padStart(6)} MB  encodeInferResponse ${ms(c).padStart(9)}` +
      `  one-shot stringify ${ms(o).padStart(9)} (${(o / c).toFixed(2)}× as long)` +
      `  JSON.parse of it ${ms(p).padStart(9)} (encode / parse ${(c / p).toFixed(2)})`,
  );
}
