import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Tensor } from '@meridian/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamicBatcher } from './batcher.js';
import { ModelWorkerError } from './errors.js';
import { createModelSession, type ModelSession } from './session.js';
import { writeMlp } from './testing/mlp.js';
import { REAL_MODELS } from './testing/models.js';
import { dropSpareWorker, keepSpareWorker, WorkerModelSession } from './worker-session.js';

let dir: string;
let mlpPath: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'onnx-worker-'));
  mlpPath = await writeMlp(join(dir, 'mlp.onnx'), { inputs: 16, hidden: 32, outputs: 4 });
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const input = (shape: number[], seed: number): Tensor => ({
  name: 'x',
  datatype: 'FP32',
  shape,
  data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(seed + i / 7)),
});

async function both<T>(path: string, use: (main: ModelSession, worker: ModelSession) => Promise<T>) {
  const main = await createModelSession(path, { executionProviders: ['cpu'], thread: 'main' });
  const worker = await createModelSession(path, { executionProviders: ['cpu'], thread: 'worker' });
  try {
    expect(worker).toBeInstanceOf(WorkerModelSession);
    expect(worker.signature).toEqual(main.signature);
    return await use(main, worker);
  } finally {
    await Promise.all([main.release(), worker.release()]);
  }
}

describe('a session in a worker thread', () => {
  it('gives the MLP the same outputs as a session on the main thread', () =>
    both(mlpPath, async (main, worker) => {
      const x = [input([3, 16], 1)];
      expect(await worker.run(x)).toEqual(await main.run(x));
    }));

  it('gives PaddleOCR cls the same outputs, batched through the batcher too', () =>
    both(REAL_MODELS.paddleCls, async (main, worker) => {
      const rows = [1, 2, 3].map((seed) => [input([1, 3, 48, 192], seed)]);
      const expected = await Promise.all(rows.map((x) => main.run(x)));
      const batcher = new DynamicBatcher(worker, {
        model: 'cls',
        maxBatchSize: 8,
        maxQueueDelayUs: 0,
        maxQueueSize: 16,
        timeoutMs: 5_000,
        adaptive: false,
      });
      const served = await Promise.all(rows.map((x) => batcher.infer(x)));
      for (const [k, r] of served.entries()) {
        expect(r.outputs[0]?.shape).toEqual([1, 2]);
        const want = [...((expected[k]?.[0]?.data as Float32Array | undefined) ?? [])];
        expect([...((r.outputs[0]?.data as Float32Array | undefined) ?? [])]).toEqual(
          want.map((v) => expect.closeTo(v, 5)),
        );
      }
      expect(served.some((r) => r.batchRequests > 1)).toBe(true);
    }));

  it('leaves the caller its inputs: a view into a larger buffer is copied, not detached', () =>
    both(mlpPath, async (main, worker) => {
      const body = new Float32Array(64).fill(0.5);
      const x: Tensor[] = [{ name: 'x', datatype: 'FP32', shape: [2, 16], data: body.subarray(8, 40) }];
      expect(await worker.run(x)).toEqual(await main.run(x));
      expect(body.byteLength).toBe(256);
    }));

  it('fails a bad request alone, with onnxruntime’s message', () =>
    both(mlpPath, async (_main, worker) => {
      await expect(worker.run([input([1, 5], 1)])).rejects.toThrow(/dimension|shape|Got/i);
      expect((await worker.run([input([1, 16], 1)]))[0]?.shape).toEqual([1, 4]);
    }));

  it('fails the requests a dying worker held with a clear error, then serves from a new one', async () => {
    const session = await WorkerModelSession.create(REAL_MODELS.paddleCls, {
      executionProviders: ['cpu'],
    });
    try {
      const inFlight = [1, 2, 3].map((seed) => session.run([input([4, 3, 48, 192], seed)]));
      const restarted = session.restart('the model worker crashed');
      for (const settled of await Promise.allSettled(inFlight)) {
        expect(settled.status).toBe('rejected');
        const reason = settled.status === 'rejected' ? settled.reason : undefined;
        expect(reason).toBeInstanceOf(ModelWorkerError);
        expect(String(reason)).toContain('the model worker crashed');
      }
      await restarted;
      expect((await session.run([input([1, 3, 48, 192], 1)]))[0]?.shape).toEqual([1, 2]);
    } finally {
      await session.release();
    }
    await expect(session.run([input([1, 3, 48, 192], 1)])).rejects.toThrow('the model was unloaded');
  });

  it('loads models into workers started ahead of need, each model in a thread of its own', async () => {
    keepSpareWorker();
    try {
      // Time for the spare to start, as a deployment at zero has before it is woken.
      await new Promise((r) => setTimeout(r, 3_000));
      const started = performance.now();
      const first = await createModelSession(REAL_MODELS.paddleCls, {
        executionProviders: ['cpu'],
        thread: 'worker',
      });
      const loadMs = performance.now() - started;
      const second = await createModelSession(mlpPath, { executionProviders: ['cpu'], thread: 'worker' });
      expect((await first.run([input([1, 3, 48, 192], 1)]))[0]?.shape).toEqual([1, 2]);
      expect((await second.run([input([1, 16], 1)]))[0]?.shape).toEqual([1, 4]);
      await first.release();
      expect((await second.run([input([1, 16], 2)]))[0]?.shape).toEqual([1, 4]);
      await second.release();
      console.info(`PaddleOCR cls loaded into a spare worker in ${loadMs.toFixed(0)} ms`);
    } finally {
      await dropSpareWorker();
    }
  });

  it('reports a model that cannot load as a failed create', async () => {
    await expect(
      createModelSession(join(dir, 'missing.onnx'), { executionProviders: ['cpu'], thread: 'worker' }),
    ).rejects.toThrow();
  });
});
