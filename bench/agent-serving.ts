import { type ChildProcess, fork } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { canonicalSigningString, encodeInferRequest, type Tensor } from '@meridian/protocol';
import { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import { writeMlp } from '../gpu-agent/src/onnx/testing/mlp.js';
import { REAL_MODELS } from '../gpu-agent/src/onnx/testing/models.js';

/**
 * OIP serving on the gpu-agent data plane: (a) raw in-process session.run, (b) the data plane without
 * batching, (c) with dynamic batching; MLP and PaddleOCR cls; JSON and binary; concurrency 1, 8, 64.
 * Server in a child process on 127.0.0.1, load generator here (keep-alive node:http, µs latencies).
 *   npx tsx bench/agent-serving.ts [--duration 3] [--threads 1]
 */
const { values: flags } = parseArgs({
  options: { duration: { type: 'string', default: '3' }, threads: { type: 'string', default: '1' } },
});
const DURATION_MS = Number(flags.duration) * 1000;
const THREADS = Number(flags.threads);
const CONCURRENCY = [1, 8, 64];
const KEY = randomBytes(32);
const SERVER = fileURLToPath(new URL('../gpu-agent/src/data-plane/testing/bench-server.ts', import.meta.url));

type Result = { rps: number; p50: number; p99: number; loadCpu: number };
const mlpPath = await writeMlp('/tmp/meridian-bench-mlp.onnx', { inputs: 64, hidden: 128, outputs: 10 });
const MODELS = {
  mlp: { path: mlpPath, shape: [1, 64] },
  cls: { path: REAL_MODELS.paddleCls, shape: [1, 3, 48, 192] },
};
type ModelName = keyof typeof MODELS;

function sample(shape: number[]): Float32Array {
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i / 7));
}

function summarize(latencies: number[], elapsedMs: number, cpuUs: number): Result {
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
  return {
    rps: (latencies.length * 1000) / elapsedMs,
    p50: at(0.5),
    p99: at(0.99),
    loadCpu: cpuUs / 1000 / elapsedMs,
  };
}

/** Runs `one` from `c` loops for the duration; latencies in ms. */
async function drive(c: number, one: () => Promise<void>): Promise<Result> {
  const latencies: number[] = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + DURATION_MS;
  await Promise.all(
    Array.from({ length: c }, async () => {
      while (performance.now() < end) {
        const s = performance.now();
        await one();
        latencies.push(performance.now() - s);
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  return summarize(latencies, performance.now() - t0, cpu.user + cpu.system);
}

async function raw(model: ModelName, c: number, batch: number): Promise<Result> {
  const { path, shape } = MODELS[model];
  const session = await InferenceSession.create(path, {
    intraOpNumThreads: THREADS,
    interOpNumThreads: 1,
    executionProviders: ['cpu'],
  });
  const dims = [batch, ...shape.slice(1)];
  const feeds = { [session.inputNames[0] ?? 'x']: new OrtTensor('float32', sample(dims), dims) };
  await session.run(feeds);
  const r = await drive(c, async () => void (await session.run(feeds)));
  await session.release();
  return { ...r, rps: r.rps * batch };
}

async function startServer(
  model: ModelName,
  maxBatchSize: number,
): Promise<{ child: ChildProcess; port: number }> {
  const config = {
    model,
    path: MODELS[model].path,
    threads: THREADS,
    maxBatchSize,
    key: KEY.toString('hex'),
  };
  const child = fork(SERVER, [JSON.stringify(config)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const [message] = (await once(child, 'message')) as [{ port: number }];
  return { child, port: message.port };
}

async function http(port: number, model: ModelName, binary: boolean, c: number): Promise<Result> {
  const tensor: Tensor = {
    name: 'x',
    datatype: 'FP32',
    shape: MODELS[model].shape,
    data: sample(MODELS[model].shape),
  };
  const { body, headerLength } = encodeInferRequest({ parameters: { binary_data_output: binary } }, [
    { tensor, binary },
  ]);
  const target = `/v2/models/${model}/infer`;
  const timestamp = Math.floor(Date.now() / 1000);
  const bodySha256Hex = createHash('sha256').update(body).digest('hex');
  const text = canonicalSigningString({
    method: 'POST',
    target,
    bodySha256Hex,
    deploymentId: 'dep_bench',
    timestamp,
  });
  const headers: Record<string, string> = {
    'content-length': String(body.byteLength),
    'x-meridian-deployment': 'dep_bench',
    'x-meridian-timestamp': String(timestamp),
    'x-meridian-signature': createHmac('sha256', KEY).update(text).digest('hex'),
    ...(headerLength === undefined ? {} : { 'inference-header-content-length': String(headerLength) }),
  };
  const agent = new Agent({ keepAlive: true, maxSockets: c });
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, path: target, method: 'POST', headers, agent },
        (res) => {
          if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
          res.on('data', () => {});
          res.on('end', resolve);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  for (let i = 0; i < 20; i++) await one();
  const r = await drive(c, one);
  agent.destroy();
  return r;
}

const fmt = (label: string, r: Result) =>
  `${label.padEnd(38)} ${r.rps.toFixed(0).padStart(7)}/s  p50 ${r.p50.toFixed(3).padStart(7)} ms  p99 ${r.p99.toFixed(3).padStart(7)} ms  loadgen CPU ${(r.loadCpu * 100).toFixed(0)}%`;

console.log(
  `agent serving bench: ${DURATION_MS / 1000}s per run, intraOpNumThreads=${THREADS}, node ${process.version}`,
);
const table: Record<string, number> = {};
for (const model of ['mlp', 'cls'] as const) {
  for (const c of CONCURRENCY) {
    const r = await raw(model, c, 1);
    table[`${model} raw c${c}`] = r.rps;
    console.log(fmt(`${model} (a) raw session.run b1 c=${c}`, r));
  }
  const r32 = await raw(model, 1, 32);
  table[`${model} raw b32`] = r32.rps;
  console.log(fmt(`${model} (a) raw session.run b32 c=1 (items)`, r32));
  for (const [mode, maxBatch] of [
    ['(b) unbatched', 1],
    ['(c) batched', 32],
  ] as const) {
    const { child, port } = await startServer(model, maxBatch);
    for (const binary of [false, true])
      for (const c of CONCURRENCY) {
        const r = await http(port, model, binary, c);
        table[`${model} ${mode} ${binary ? 'bin' : 'json'} c${c}`] = r.rps;
        console.log(fmt(`${model} ${mode} ${binary ? 'binary' : 'json'} c=${c}`, r));
      }
    child.send('mode');
    const [state] = await once(child, 'message');
    console.log(`  ${model} ${mode} batcher: ${JSON.stringify(state)}`);
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
}
const ratio = (a: string, b: string) => ((table[a] ?? Number.NaN) / (table[b] ?? Number.NaN)).toFixed(2);
console.log(
  `cls binary batched c=64 / raw b32: ${ratio('cls (c) batched bin c64', 'cls raw b32')} (target ≥ 0.85)`,
);
console.log(
  `mlp batched / unbatched, binary c=64: ${ratio('mlp (c) batched bin c64', 'mlp (b) unbatched bin c64')} (target ≥ 3)`,
);
console.log(
  `mlp batched / unbatched, json c=64: ${ratio('mlp (c) batched json c64', 'mlp (b) unbatched json c64')}`,
);
