import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModelSession } from './session.js';
import { writeMlp } from './testing/mlp.js';
import { REAL_MODELS } from './testing/models.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'onnx-session-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('createModelSession', () => {
  it('falls back to the CPU when CUDA cannot load on this GPU-less machine, and says so in the log', async () => {
    const logs: string[] = [];
    const session = await createModelSession(REAL_MODELS.paddleCls, {
      executionProviders: ['cuda', 'cpu'],
      log: (message) => logs.push(message),
    });
    expect(session.executionProviders).toEqual(['cpu']);
    expect(logs).toEqual(['execution providers failed to load; falling back to cpu']);
    const [out] = await session.run([
      { name: 'x', datatype: 'FP32', shape: [1, 3, 48, 192], data: new Float32Array(3 * 48 * 192) },
    ]);
    expect(out?.shape).toEqual([1, 2]);
    await session.release();
  });

  it('reads OIP signatures with -1 for dynamic dims (VAD state has its batch on dim 1)', async () => {
    const vad = await createModelSession(REAL_MODELS.sileroVad, { executionProviders: ['cpu'] });
    expect(vad.signature).toEqual({
      inputs: [
        { name: 'input', datatype: 'FP32', shape: [-1, -1] },
        { name: 'state', datatype: 'FP32', shape: [2, -1, 128] },
        { name: 'sr', datatype: 'INT64', shape: [] },
      ],
      outputs: [
        { name: 'output', datatype: 'FP32', shape: [-1, 1] },
        { name: 'stateN', datatype: 'FP32', shape: [-1, -1, -1] },
      ],
    });
    await vad.release();
  });

  it('serves an MLP built with onnx-proto', async () => {
    const path = await writeMlp(join(dir, 'mlp.onnx'), { inputs: 4, hidden: 8, outputs: 3 });
    const mlp = await createModelSession(path, { executionProviders: ['cpu'] });
    expect(mlp.signature.inputs).toEqual([{ name: 'x', datatype: 'FP32', shape: [-1, 4] }]);
    const [y] = await mlp.run([
      { name: 'x', datatype: 'FP32', shape: [2, 4], data: new Float32Array(8).fill(1) },
    ]);
    expect(y?.shape).toEqual([2, 3]);
    await mlp.release();
  });
});
