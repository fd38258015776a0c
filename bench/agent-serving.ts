import { type ChildProcess, fork } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { canonicalSigningString, encodeInferRequest, type Tensor } from '@meridian/protocol';
import { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import { writeMlp } from '../gpu-agent/src/onnx/testing/mlp.js';
import { REAL_MODELS } from '../gpu-agent/src/onnx/testing/models.js';

/**
 * OIP serving on the gpu-agent data plane: (a) raw in-process session.run, (b) the data plane without
 * batching, (c) with dynamic batching, (f) the floor: a bare node:http server that runs the same
 * session.run on fixed inputs and answers a fixed body, i.e. what any HTTP server on this machine pays, and
 * (g) the signed floor: the same plus the agent's own edge signature check, which the data plane must make.
 * Models: a small MLP (64-128-10), a wide MLP (1024-4096-10, 16 MB of weights) and PaddleOCR cls; JSON and
 * binary; concurrency 1, 8, 64. Servers in child processes on 127.0.0.1, load generator here (raw sockets).
 * Every request has a timeout; failures are counted and printed per cell, never waited on. The checks it
 * prints: the classifier's JSON path, server CPU per request against JSON.parse of its body (≤ 2), and a
 * small model's server CPU per request against the bare node:http floor (≤ 2), and, beside it, against the
 * signed floor (how much of that gap the required check is).
 *   npx tsx bench/agent-serving.ts [--duration 2] [--threads 1] [--thread auto|main|worker]
 *     [--only mlp|mlp-wide|cls] [--prof DIR]
 * --threads is intraOpNumThreads for raw and served sessions alike; --thread is where the served session
 * runs (SessionOptions.thread).
 */
const { values: flags } = parseArgs({
  options: {
    // 2 s cells keep the whole run under 5 minutes on this 2-core machine; pass --duration 5 to focus on one model.
    duration: { type: 'string', default: '2' },
    threads: { type: 'string', default: '1' },
    thread: { type: 'string', default: 'auto' },
    /** mlp, mlp-wide or cls: run one model only. */
    only: { type: 'string' },
    /** A folder: the server child runs with --cpu-prof there. */
    prof: { type: 'string' },
    /** Comma-separated concurrencies to serve (default 1,8,64), e.g. for a focused profile. */
    concurrency: { type: 'string', default: '1,8,64' },
    /** json or binary: serve one format only. */
    format: { type: 'string' },
  },
});
const DURATION_MS = Number(flags.duration) * 1000;
const THREADS = Number(flags.threads);
const THREAD = flags.thread;
if (THREAD !== 'auto' && THREAD !== 'main' && THREAD !== 'worker')
  throw new Error('--thread: auto|main|worker');
const CONCURRENCY = flags.concurrency.split(',').map(Number);
const KEY = randomBytes(32);
const SERVER = fileURLToPath(new URL('../gpu-agent/src/data-plane/testing/bench-server.ts', import.meta.url));
const FLOOR = fileURLToPath(new URL('./servers/onnx-floor.ts', import.meta.url));

type Result = { rps: number; p50: number; p99: number; loadCpu: number };
const MODELS = {
  mlp: {
    path: await writeMlp('/tmp/meridian-bench-mlp.onnx', { inputs: 64, hidden: 128, outputs: 10 }),
    shape: [1, 64],
  },
  // Big enough that one row costs more than the HTTP around it (~1 ms single, memory-bound): the case
  // batching exists for. The small MLP shows the other case.
  'mlp-wide': {
    path: await writeMlp('/tmp/meridian-bench-mlp-wide.onnx', { inputs: 1024, hidden: 4096, outputs: 10 }),
    shape: [1, 1024],
  },
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

/** Runs `one` from `c` loops for the duration; latencies (ms) of the calls that succeeded (`one` → true). */
async function drive(c: number, one: (loop: number) => Promise<boolean>): Promise<Result> {
  const latencies: number[] = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + DURATION_MS;
  await Promise.all(
    Array.from({ length: c }, async (_, loop) => {
      while (performance.now() < end) {
        const s = performance.now();
        if (await one(loop)) latencies.push(performance.now() - s);
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
  const r = await drive(c, async () => {
    await session.run(feeds);
    return true;
  });
  await session.release();
  return { ...r, rps: r.rps * batch };
}

async function startServer(
  model: ModelName,
  maxBatchSize: number,
  script = SERVER,
  options: { signed?: boolean } = {},
): Promise<{ child: ChildProcess; port: number }> {
  const config = {
    model,
    path: MODELS[model].path,
    shape: MODELS[model].shape,
    threads: THREADS,
    thread: THREAD,
    maxBatchSize,
    key: KEY.toString('hex'),
    ...options,
  };
  const prof = flags.prof ? ['--cpu-prof', `--cpu-prof-dir=${flags.prof}`] : [];
  const child = fork(script, [JSON.stringify(config)], {
    execArgv: ['--import', 'tsx', ...prof],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`${script} exited (code ${code}) before it listened`);
  });
  const [message] = (await Promise.race([once(child, 'message'), exited])) as [{ port: number }];
  exited.catch(() => {});
  return { child, port: message.port };
}

/** Jiffies of the whole machine from /proc/stat: all, and stolen by the hypervisor. */
function machineJiffies(): { total: number; steal: number } {
  const fields =
    readFileSync('/proc/stat', 'latin1').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
  return { total: fields.slice(0, 8).reduce((a, b) => a + b, 0), steal: fields[7] ?? 0 };
}
const machineAtStart = machineJiffies();
const benchStarted = performance.now();

/** User and system CPU of a process, in µs (Linux /proc; clock ticks are 100 Hz). */
function procCpu(pid: number | undefined): { user: number; system: number } {
  if (pid === undefined) return { user: Number.NaN, system: Number.NaN };
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) * 10_000, system: Number(fields[12]) * 10_000 };
}

/** Every request is answered within this, or counted as a failure (and its connection replaced). */
const REQUEST_TIMEOUT_MS = 10_000;

let nonceCounter = 0;

/**
 * A request's bytes, signed as the edge signs: the body and its SHA-256 are fixed, so per request only the
 * nonce (the agent refuses one twice), the HMAC and the header block are made.
 */
function requestBytes(model: ModelName, binary: boolean): { next: () => Buffer; body: Uint8Array } {
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
  const bodySha256Hex = createHash('sha256').update(body).digest('hex');
  const inferenceHeaderContentLength = headerLength === undefined ? '' : String(headerLength);
  const bodyBuffer = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const next = () => {
    const timestamp = Math.floor(Date.now() / 1000);
    const nonce = `bench.${process.pid}.${nonceCounter++}`;
    const fields = {
      method: 'POST',
      target,
      bodySha256Hex,
      deploymentId: 'dep_bench',
      timestamp,
      nonce,
      keyGeneration: 1,
      contentType: '',
      inferenceHeaderContentLength,
    };
    const signature = createHmac('sha256', KEY).update(canonicalSigningString(fields)).digest('hex');
    const head =
      `POST ${target} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: ${body.byteLength}\r\n` +
      `x-meridian-deployment: dep_bench\r\nx-meridian-timestamp: ${timestamp}\r\n` +
      `x-meridian-nonce: ${nonce}\r\nx-meridian-key-generation: 1\r\n` +
      `x-meridian-signature: ${signature}\r\n` +
      (headerLength === undefined ? '' : `inference-header-content-length: ${headerLength}\r\n`) +
      '\r\n';
    return Buffer.concat([Buffer.from(head, 'latin1'), bodyBuffer]);
  };
  return { next, body };
}

/** How one request ended: 'ok' for a 200, else what went wrong (counted per cell). */
type Outcome = 'ok' | 'timeout' | 'closed' | `error ${string}` | `status ${number}`;

/**
 * A keep-alive connection that sends one request at a time and reads its response (a content-length
 * body). Raw net.Socket: the load generator shares the cores with the server, so it does as little per
 * request as an HTTP client can. Every request ends: answered, timed out, or cut by a closed socket (an
 * idle connection the server closed, say); the connection is then opened again for the next request.
 */
function connection(port: number): { send(bytes: Buffer): Promise<Outcome>; close(): void } {
  let socket: Socket | undefined;
  let settle: ((outcome: Outcome) => void) | undefined;
  let buffered: Buffer | undefined;
  let need = -1;
  let status = 0;
  const finish = (outcome: Outcome) => {
    const done = settle;
    settle = undefined;
    buffered = undefined;
    need = -1;
    done?.(outcome);
  };
  const drop = (outcome: Outcome) => {
    socket?.destroy();
    socket = undefined;
    finish(outcome);
  };
  const open = () => {
    const s = connect({ host: '127.0.0.1', port, noDelay: true });
    s.on('data', (chunk: Buffer) => {
      buffered = buffered ? Buffer.concat([buffered, chunk]) : chunk;
      if (need < 0) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffered.toString('latin1', 0, end).toLowerCase();
        const length = /\r\ncontent-length: *(\d+)/.exec(head)?.[1];
        status = Number(head.slice(9, 12));
        if (length === undefined) return drop('error no content-length');
        need = end + 4 + Number(length);
      }
      if (buffered.byteLength < need) return;
      const closing = /\r\nconnection: *close/.test(buffered.toString('latin1', 0, need).toLowerCase());
      if (closing) drop(status === 200 ? 'ok' : `status ${status}`);
      else finish(status === 200 ? 'ok' : `status ${status}`);
    });
    s.on('error', (err: NodeJS.ErrnoException) => drop(`error ${err.code ?? err.message}`));
    s.on('close', () => {
      if (socket === s) drop('closed');
    });
    return s;
  };
  return {
    send: (bytes) =>
      new Promise<Outcome>((resolve) => {
        const timer = setTimeout(() => drop('timeout'), REQUEST_TIMEOUT_MS);
        settle = (outcome) => {
          clearTimeout(timer);
          resolve(outcome);
        };
        socket ??= open();
        socket.write(bytes);
      }),
    close: () => {
      const s = socket;
      socket = undefined;
      s?.destroy();
    },
  };
}

/** Failures of a cell by kind, e.g. "timeout 2, status 503 1"; "none" when every request was a 200. */
function describeFailures(failures: Map<string, number>): string {
  if (failures.size === 0) return 'none';
  return [...failures].map(([kind, n]) => `${kind} ${n}`).join(', ');
}

/**
 * CPU µs of one JSON.parse of the body's text (decoded beforehand): the reference for the JSON path. Taken
 * just before and just after the cell and averaged, so it sees the machine the server saw.
 */
function jsonParseUs(body: Uint8Array): () => number {
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  const rounds = Math.max(5, Math.min(200, Math.round(2e7 / text.length)));
  let total = 0;
  let count = 0;
  const measure = () => {
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < rounds; i++) JSON.parse(text);
    const cpu = process.cpuUsage(cpu0);
    total += cpu.user + cpu.system;
    count += rounds;
  };
  measure();
  return () => {
    measure();
    return total / count;
  };
}

async function http(
  server: { child: ChildProcess; port: number },
  model: ModelName,
  binary: boolean,
  c: number,
): Promise<Served> {
  const request = requestBytes(model, binary);
  const conns = Array.from({ length: c }, () => connection(server.port));
  // Warm-up on every connection at once: one after another, the first ones would sit idle for longer
  // than the server keeps an idle connection open.
  await Promise.all(
    conns.map(async (conn) => {
      for (let i = 0; i < 2; i++) await conn.send(request.next());
    }),
  );
  // The reference for the classifier's JSON path (the small models' bodies are too small to matter).
  const parseAfter = binary || model !== 'cls' ? undefined : jsonParseUs(request.body);
  const failures = new Map<string, number>();
  const serverCpu0 = procCpu(server.child.pid);
  const r = await drive(c, async (loop) => {
    const outcome = await (conns[loop] as (typeof conns)[number]).send(request.next());
    if (outcome === 'ok') return true;
    failures.set(outcome, (failures.get(outcome) ?? 0) + 1);
    return false;
  });
  const serverCpu1 = procCpu(server.child.pid);
  const parseUs = parseAfter?.();
  const serverUser = serverCpu1.user - serverCpu0.user;
  const serverCpu = serverUser + serverCpu1.system - serverCpu0.system;
  for (const conn of conns) conn.close();
  const requests = (r.rps * DURATION_MS) / 1000;
  return {
    ...r,
    serverCpu: serverCpu / 1000 / DURATION_MS,
    serverUsPerReq: serverCpu / requests,
    serverUserShare: serverUser / serverCpu,
    failures: describeFailures(failures),
    ...(parseUs === undefined ? {} : { parseUs }),
  };
}

type Served = Result & {
  serverCpu?: number;
  serverUsPerReq?: number;
  /** Of the server's CPU, the share in user space (the rest is the kernel's: sockets, wakeups). */
  serverUserShare?: number;
  failures?: string;
  parseUs?: number;
};
const fmt = (label: string, r: Served) => {
  let line = `${label.padEnd(34)} ${r.rps.toFixed(0).padStart(7)}/s  p50 ${r.p50.toFixed(3).padStart(7)} ms  p99 ${r.p99.toFixed(3).padStart(7)} ms  loadgen CPU ${(r.loadCpu * 100).toFixed(0)}%`;
  if (r.serverCpu === undefined) return line;
  line += `  server CPU ${(r.serverCpu * 100).toFixed(0)}% ${(r.serverUsPerReq ?? 0).toFixed(0)} µs/req (${((r.serverUserShare ?? 0) * 100).toFixed(0)}% user)`;
  if (r.parseUs !== undefined)
    line += ` = ${((r.serverUsPerReq ?? 0) / r.parseUs).toFixed(2)}× JSON.parse of the body (${r.parseUs.toFixed(0)} µs)`;
  return `${line}  failures: ${r.failures ?? 'none'}`;
};

console.log(
  `agent serving bench: ${DURATION_MS / 1000}s per run, intraOpNumThreads=${THREADS}, session thread ${THREAD}, node ${process.version}`,
);
const table: Record<string, Served> = {};
const models = (['mlp', 'mlp-wide', 'cls'] as const).filter(
  (m) => flags.only === undefined || flags.only === m,
);
for (const model of models) {
  for (const c of CONCURRENCY) {
    const r = await raw(model, c, 1);
    table[`${model} raw c${c}`] = r;
    console.log(fmt(`${model} (a) raw session.run b1 c=${c}`, r));
  }
  const r32 = await raw(model, 1, 32);
  table[`${model} raw b32`] = r32;
  console.log(fmt(`${model} (a) raw session.run b32 c=1 (items)`, r32));
  for (const [key, label, signed] of [
    ['floor', '(f) floor node:http', false],
    ['signed floor', '(g) signed floor', true],
  ] as const) {
    const floor = await startServer(model, 1, FLOOR, { signed });
    for (const c of CONCURRENCY) {
      const r = await http(floor, model, true, c);
      table[`${model} ${key} c${c}`] = r;
      console.log(fmt(`${model} ${label} c=${c}`, r));
    }
    floor.child.kill('SIGTERM');
    await once(floor.child, 'exit');
  }
  for (const [mode, maxBatch] of [
    ['(b) unbatched', 1],
    ['(c) batched', 32],
  ] as const) {
    const server = await startServer(model, maxBatch);
    for (const binary of [false, true].filter(
      (b) => flags.format === undefined || flags.format === (b ? 'binary' : 'json'),
    ))
      for (const c of CONCURRENCY) {
        const r = await http(server, model, binary, c);
        table[`${model} ${mode} ${binary ? 'bin' : 'json'} c${c}`] = r;
        console.log(fmt(`${model} ${mode} ${binary ? 'binary' : 'json'} c=${c}`, r));
      }
    server.child.send('mode');
    const [state] = await once(server.child, 'message');
    console.log(`  ${model} ${mode} batcher: ${JSON.stringify(state)}`);
    server.child.kill('SIGTERM');
    await once(server.child, 'exit');
  }
}
// On a shared VM the hypervisor's steal time moves every figure above; it is printed so runs can be compared.
const machineAtEnd = machineJiffies();
const loadAverage = readFileSync('/proc/loadavg', 'latin1').split(' ').slice(0, 3).join(' ');
console.log(
  `machine: ${cpus().length} CPUs, load average ${loadAverage}, run took ${((performance.now() - benchStarted) / 1000).toFixed(0)} s; ${((100 * (machineAtEnd.steal - machineAtStart.steal)) / (machineAtEnd.total - machineAtStart.total)).toFixed(1)}% of CPU time stolen by the hypervisor during this run`,
);
const ratio = (a: string, b: string) =>
  ((table[a]?.rps ?? Number.NaN) / (table[b]?.rps ?? Number.NaN)).toFixed(2);
const p50gap = (a: string, b: string) =>
  ((table[a]?.p50 ?? Number.NaN) - (table[b]?.p50 ?? Number.NaN)).toFixed(3);
for (const m of models) {
  const served = `${m} (c) batched bin c64`;
  // Each target belongs to one model: the throughput-vs-raw target to cls, the batching gain to the MLPs.
  if (m === 'cls')
    console.log(
      `${m} binary batched c=64 / raw b32: ${ratio(served, `${m} raw b32`)} (target ≥ 0.85 for cls); loadgen CPU ${((table[served]?.loadCpu ?? Number.NaN) * 100).toFixed(0)}%`,
    );
  const json = [1, 2].flatMap((k) =>
    CONCURRENCY.map((c) => {
      const r = table[`${m} ${k === 1 ? '(b) unbatched' : '(c) batched'} json c${c}`];
      const x = (r?.serverUsPerReq ?? Number.NaN) / (r?.parseUs ?? Number.NaN);
      return `${k === 1 ? 'unbatched' : 'batched'} c=${c} ${x.toFixed(2)}`;
    }),
  );
  if (m === 'cls')
    console.log(`${m} JSON server CPU per request / JSON.parse of its body: ${json.join(', ')} (target ≤ 2)`);
  const overFloor = CONCURRENCY.map((c) => {
    const served = table[`${m} (b) unbatched bin c${c}`]?.serverUsPerReq ?? Number.NaN;
    const floor = table[`${m} floor c${c}`]?.serverUsPerReq ?? Number.NaN;
    return `c=${c} ${served.toFixed(0)}/${floor.toFixed(0)} µs = ${(served / floor).toFixed(2)}`;
  });
  console.log(
    `${m} server CPU per request, unbatched binary / node:http floor: ${overFloor.join(', ')} (target ≤ 2 for the small MLP)`,
  );
  // Not a target: how much of the gap above is the edge signature check the data plane must make.
  const overSigned = CONCURRENCY.map((c) => {
    const served = table[`${m} (b) unbatched bin c${c}`]?.serverUsPerReq ?? Number.NaN;
    const signed = table[`${m} signed floor c${c}`]?.serverUsPerReq ?? Number.NaN;
    const floor = table[`${m} floor c${c}`]?.serverUsPerReq ?? Number.NaN;
    return `c=${c} ${served.toFixed(0)}/${signed.toFixed(0)} µs = ${(served / signed).toFixed(2)} (the check: ${signed >= floor ? '+' : '−'}${Math.abs(signed - floor).toFixed(0)} µs over node:http)`;
  });
  console.log(
    `${m} server CPU per request, unbatched binary / signed floor (node:http + the agent's signature check): ${overSigned.join(', ')}`,
  );
  for (const f of m === 'cls' ? [] : ['bin', 'json'])
    console.log(
      `${m} batched / unbatched, ${f} c=64: ${ratio(`${m} (c) batched ${f} c64`, `${m} (b) unbatched ${f} c64`)} (target ≥ 3 for the MLP)`,
    );
  console.log(
    `${m} p50 c=1 binary minus raw b1: unbatched +${p50gap(`${m} (b) unbatched bin c1`, `${m} raw c1`)} ms, batched +${p50gap(`${m} (c) batched bin c1`, `${m} raw c1`)} ms (target ≤ 0.5); of which the node:http floor +${p50gap(`${m} floor c1`, `${m} raw c1`)} ms`,
  );
}
const failed = Object.entries(table).filter(([, r]) => r.failures !== undefined && r.failures !== 'none');
console.log(
  failed.length === 0
    ? 'all cells complete: every request answered 200'
    : `cells with failures: ${failed.map(([k, r]) => `${k} (${r.failures})`).join('; ')}`,
);
