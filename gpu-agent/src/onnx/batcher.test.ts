import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Tensor } from '@meridian/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BatcherOptions, DynamicBatcher } from './batcher.js';
import { InferTimeoutError, QueueFullError } from './errors.js';
import { createModelSession, type ModelRunner, type ModelSession } from './session.js';
import { writeMlp } from './testing/mlp.js';
import { REAL_MODELS } from './testing/models.js';

let dir: string;
let mlp: ModelSession;
let vad: ModelSession;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'onnx-batcher-'));
  mlp = await createModelSession(
    await writeMlp(join(dir, 'mlp.onnx'), { inputs: 16, hidden: 32, outputs: 4 }),
    {
      executionProviders: ['cpu'],
    },
  );
  vad = await createModelSession(REAL_MODELS.sileroVad, { executionProviders: ['cpu'] });
});
afterAll(async () => {
  await Promise.all([mlp.release(), vad.release()]);
  await rm(dir, { recursive: true, force: true });
});

const base: BatcherOptions = {
  model: 'm',
  maxBatchSize: 32,
  maxQueueDelayUs: 0,
  maxQueueSize: 256,
  timeoutMs: 5_000,
};
const row = (seed: number): Tensor[] => [
  {
    name: 'x',
    datatype: 'FP32',
    shape: [1, 16],
    data: Float32Array.from({ length: 16 }, (_, i) => Math.sin(seed + i)),
  },
];

/** A real session whose runs wait for `open()`: lets a test hold the model busy. */
function gated(runner: ModelRunner): ModelRunner & { open(): void } {
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { signature: runner.signature, open: () => release(), run: (i) => gate.then(() => runner.run(i)) };
}

describe('DynamicBatcher', () => {
  it('stacks concurrent requests into few runs and gives each request its own rows', async () => {
    const runs: number[] = [];
    const batcher = new DynamicBatcher(mlp, {
      ...base,
      adaptive: false,
      onExecute: (r) => runs.push(r.requests),
    });
    const inputs = Array.from({ length: 40 }, (_, i) => row(i));
    const results = await Promise.all(inputs.map((i) => batcher.infer(i)));
    expect(runs.length).toBeLessThan(40);
    expect(Math.max(...runs)).toBeGreaterThan(1);
    for (const [k, result] of results.entries()) {
      const [direct] = await mlp.run(inputs[k] ?? []);
      expect(result.outputs[0]?.shape).toEqual([1, 4]);
      expect(result.outputs[0]?.data).toEqual(direct?.data);
    }
  });

  it('waits up to max queue delay to fill a batch', async () => {
    const runs: number[] = [];
    const batcher = new DynamicBatcher(mlp, {
      ...base,
      adaptive: false,
      maxQueueDelayUs: 20_000,
      onExecute: (r) => runs.push(r.requests),
    });
    const first = batcher.infer(row(0));
    await new Promise((r) => setTimeout(r, 5));
    await Promise.all([first, batcher.infer(row(1))]);
    expect(runs).toEqual([2]);
  });

  it('answers QueueFullError once the queue holds maxQueueSize requests', async () => {
    const slow = gated(mlp);
    const batcher = new DynamicBatcher(slow, { ...base, maxQueueSize: 2 });
    const running = batcher.infer(row(0));
    const queued = [batcher.infer(row(1)), batcher.infer(row(2))];
    await expect(batcher.infer(row(3))).rejects.toBeInstanceOf(QueueFullError);
    slow.open();
    await Promise.all([running, ...queued]);
  });

  it('runs a real-time request queued after batch lines before them', async () => {
    const slow = gated(mlp);
    // One request per run, so the order of runs is the order of the queue.
    const batcher = new DynamicBatcher(slow, { ...base, maxBatchSize: 1 });
    const order: string[] = [];
    const running = batcher.infer(row(0)).then(() => order.push('first'));
    await new Promise((resolve) => setImmediate(resolve));
    const lines = [1, 2, 3].map((i) =>
      batcher.infer(row(i), { lowPriority: true }).then(() => order.push(`batch ${i}`)),
    );
    const realTime = batcher.infer(row(9)).then(() => order.push('real-time'));
    slow.open();
    await Promise.all([running, realTime, ...lines]);
    expect(order).toEqual(['first', 'real-time', 'batch 1', 'batch 2', 'batch 3']);
  });

  it('sheds requests queued past maxQueueWaitMs with QueueFullError at once, not at the timeout', async () => {
    const slow = gated(mlp);
    const batcher = new DynamicBatcher(slow, { ...base, timeoutMs: 30_000, maxQueueWaitMs: 100 });
    const running = batcher.infer(row(0));
    await new Promise((resolve) => setImmediate(resolve));
    const started = performance.now();
    const queued = Array.from({ length: 20 }, (_, i) =>
      batcher.infer(row(i + 1)).then(
        () => 'served',
        (err: unknown) => (err instanceof QueueFullError ? performance.now() - started : 'other'),
      ),
    );

    const outcomes = await Promise.all(queued);
    // All shed after about 100 ms: none waited towards the 30 s timeout.
    for (const waited of outcomes) {
      expect(typeof waited).toBe('number');
      expect(waited as number).toBeGreaterThanOrEqual(90);
      expect(waited as number).toBeLessThan(2_000);
    }
    expect(batcher.queued).toBe(0);
    slow.open();
    await running;
  });

  it('times a request out when the model stays busy', async () => {
    const slow = gated(mlp);
    const batcher = new DynamicBatcher(slow, { ...base, timeoutMs: 50 });
    const started = performance.now();
    await expect(batcher.infer(row(0))).rejects.toBeInstanceOf(InferTimeoutError);
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
    slow.open();
  });

  it('serves Silero VAD one request per run: its state input has batch on dim 1', async () => {
    const runs: number[] = [];
    const batcher = new DynamicBatcher(vad, { ...base, onExecute: (r) => runs.push(r.requests) });
    expect(batcher.mode).toBe('unbatchable');
    const request = (seed: number): Tensor[] => [
      {
        name: 'input',
        datatype: 'FP32',
        shape: [1, 512],
        data: Float32Array.from({ length: 512 }, (_, i) => Math.sin(seed * i)),
      },
      { name: 'state', datatype: 'FP32', shape: [2, 1, 128], data: new Float32Array(256) },
      { name: 'sr', datatype: 'INT64', shape: [], data: new BigInt64Array([16000n]) },
    ];
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => batcher.infer(request(i))));
    expect(runs).toEqual(Array(8).fill(1));
    const [direct] = await vad.run(request(3));
    expect(results[3]?.outputs[0]?.data).toEqual(direct?.data);
  });

  it('runs the queued requests of a model that never batches in one event-loop turn, not one per turn', async () => {
    // onnxruntime-node starts every run from a setImmediate: run one at a time, 32 requests took 32 turns.
    const batcher = new DynamicBatcher(mlp, { ...base, maxBatchSize: 1 });
    expect(batcher.mode).toBe('unbatchable');
    let turns = 0;
    let counting = true;
    const tick = () => {
      turns++;
      if (counting) setImmediate(tick);
    };
    setImmediate(tick);
    const results = await Promise.all(Array.from({ length: 32 }, (_, i) => batcher.infer(row(i))));
    counting = false;
    expect(results).toHaveLength(32);
    expect(turns).toBeLessThanOrEqual(8);
  });

  it('stops batching a model whose batched runs cost more per item than single ones, and pipelines its runs', async () => {
    // A runner whose cost grows faster than linearly with batch size stands in for models like the
    // PaddleOCR recogniser; it wraps the real MLP so outputs stay real, and reports its compute time
    // (1 ms a row alone, 3 ms a row batched) so the outcome does not hang on a busy machine's timers.
    let inFlight = 0;
    const inFlightAtStart: number[] = [];
    const worse: ModelRunner = {
      signature: mlp.signature,
      run: (inputs) => mlp.run(inputs),
      runTimed: async (inputs) => {
        inFlightAtStart.push(++inFlight);
        const rows = inputs[0]?.shape[0] ?? 1;
        const outputs = await mlp.run(inputs).finally(() => inFlight--);
        return { outputs, computeUs: rows === 1 ? 1_000 : rows * 3_000 };
      },
    };
    const batcher = new DynamicBatcher(worse, base);
    // Learning leaves out each side's first runs and counts five: 13 single runs, then 7 batches.
    for (let round = 0; round < 10; round++)
      await Promise.all(Array.from({ length: 8 }, (_, i) => batcher.infer(row(i))));
    expect(batcher.mode).toBe('unbatched');
    // Served unbatched, queued requests run several at once, as for a model that never batches.
    inFlightAtStart.length = 0;
    await Promise.all(Array.from({ length: 16 }, (_, i) => batcher.infer(row(i))));
    expect(Math.max(...inFlightAtStart)).toBeGreaterThan(1);
  });

  it("runs a probe's single runs several at once, as it would serve them unbatched", async () => {
    // Batches cost a seventh of a single run per row, so the policy batches and probes single runs now and
    // then. Run one at a time, each paid an event-loop turn that unbatched serving does not pay, and read
    // worse than unbatched serving would be.
    let inFlight = 0;
    const singleStarts: { inFlight: number; mode: string }[] = [];
    let batcher: DynamicBatcher | undefined;
    const cheapBatches: ModelRunner = {
      signature: mlp.signature,
      run: (inputs) => mlp.run(inputs),
      runTimed: async (inputs) => {
        inFlight += 1;
        const rows = inputs[0]?.shape[0] ?? 1;
        if (rows === 1) singleStarts.push({ inFlight, mode: batcher?.mode ?? '' });
        const outputs = await mlp.run(inputs).finally(() => inFlight--);
        return { outputs, computeUs: rows === 1 ? 700 : rows * 100 };
      },
    };
    batcher = new DynamicBatcher(cheapBatches, base);
    // Rounds of 64 callers until a probe has come (2,048 rows after learning).
    for (let round = 0; round < 48; round++)
      await Promise.all(Array.from({ length: 64 }, (_, i) => batcher.infer(row(i))));
    expect(batcher.mode).toBe('batching');
    const probeStarts = singleStarts.filter((s) => s.mode === 'batching');
    expect(probeStarts.length).toBeGreaterThanOrEqual(12);
    expect(Math.max(...probeStarts.map((s) => s.inFlight))).toBeGreaterThan(1);
  });

  it('starts the next full batch before answering the one that finished', async () => {
    // Answering a batch takes the main thread a while (responses encoded and written); the model's
    // thread should not wait for that when the next batch is already queued.
    const events: string[] = [];
    let runs = 0;
    const logged: ModelRunner = {
      signature: mlp.signature,
      run: (inputs) => mlp.run(inputs),
      runTimed: async (inputs) => {
        const n = ++runs;
        events.push(`run ${n}`);
        return { outputs: await mlp.run(inputs), computeUs: 100 * (inputs[0]?.shape[0] ?? 1) };
      },
    };
    const batcher = new DynamicBatcher(logged, { ...base, adaptive: false });
    const answers = Array.from({ length: 96 }, (_, i) =>
      batcher.infer(row(i)).then(() => events.push(`answer ${i}`)),
    );
    await Promise.all(answers);
    expect(events.filter((e) => e.startsWith('run'))).toEqual(['run 1', 'run 2', 'run 3']);
    expect(events.indexOf('run 2')).toBeLessThan(events.indexOf('answer 0'));
    expect(events.indexOf('run 3')).toBeLessThan(events.indexOf('answer 32'));
  });

  it('keeps batching the MLP, where a batch of 32 costs little more than one row', async () => {
    const batcher = new DynamicBatcher(mlp, base);
    for (let round = 0; round < 8; round++)
      await Promise.all(Array.from({ length: 32 }, (_, i) => batcher.infer(row(i))));
    expect(batcher.mode).toBe('batching');
  });
});
