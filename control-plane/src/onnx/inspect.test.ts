import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onnx } from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectOnnxFile } from './inspect.js';
import { OnnxHeaderError, readOnnxHeader } from './model-header.js';
import { EXPECTED_SIGNATURES, REAL_MODELS } from './test-models.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'onnx-inspect-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('inspectOnnxFile', () => {
  it('reads Silero VAD v5: unnamed dynamic dims become -1, the scalar sr keeps an empty shape, opset 16', async () => {
    const result = await inspectOnnxFile(REAL_MODELS.sileroVad);
    expect(result).toEqual({ ok: true, signature: EXPECTED_SIGNATURES.sileroVad });
  });

  it('reads PaddleOCR cls: symbolic dims keep their names beside -1, opset 9', async () => {
    const result = await inspectOnnxFile(REAL_MODELS.paddleCls);
    expect(result).toEqual({ ok: true, signature: EXPECTED_SIGNATURES.paddleCls });
  });

  it('rejects a truncated model with a reason that names the truncation and not the temp path', async () => {
    const path = join(dir, 'truncated.onnx');
    const bytes = readFileSync(REAL_MODELS.sileroVad);
    await writeFile(path, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const result = await inspectOnnxFile(path);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.reason).toMatch(/truncated/);
    expect(result.reason).not.toContain(dir);
  });

  it('passes onnxruntime’s own reason through when the framing is fine but the graph is not', async () => {
    // A well-formed ModelProto whose graph uses an operator that does not exist.
    const model = onnx.ModelProto.encode({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: {
        name: 'g',
        node: [{ opType: 'NoSuchOp', input: ['x'], output: ['y'] }],
        input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }] } } } }],
        output: [{ name: 'y', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 1 }] } } } }],
      },
    }).finish();
    const path = join(dir, 'bad-op.onnx');
    await writeFile(path, model);
    const result = await inspectOnnxFile(path);
    expect(result).toEqual({
      ok: false,
      reason: expect.stringMatching(/^onnxruntime could not load the model: .*NoSuchOp/),
    });
    if (!result.ok) expect(result.reason).not.toContain(dir);
  });

  it('rejects bytes that are not protobuf at all', async () => {
    const path = join(dir, 'text.onnx');
    await writeFile(path, 'this is not a model\n'.repeat(10));
    const result = await inspectOnnxFile(path);
    expect(result.ok).toBe(false);
  });
});

describe('readOnnxHeader', () => {
  it('agrees with a full protobuf decode on every real model', async () => {
    for (const path of Object.values(REAL_MODELS)) {
      const decoded = onnx.ModelProto.decode(readFileSync(path));
      const header = await readOnnxHeader(path);
      expect(header).toEqual({
        irVersion: Number(decoded.irVersion),
        opsetImports: decoded.opsetImport.map((o) => ({ domain: o.domain, version: Number(o.version) })),
        producerName: decoded.producerName,
        producerVersion: decoded.producerVersion,
      });
    }
  });

  it('reads the header of a model whose opset comes after a large graph, with a small fixed buffer', async () => {
    const weights = new Float32Array(4 * 1024 * 1024); // 16 MiB initializer inside the graph
    const model = onnx.ModelProto.encode({
      irVersion: 9,
      producerName: 'meridian-test',
      graph: {
        name: 'big',
        initializer: [
          { name: 'w', dims: [weights.length], dataType: 1, rawData: new Uint8Array(weights.buffer) },
        ],
      },
      opsetImport: [
        { domain: 'ai.onnx.ml', version: 3 },
        { domain: '', version: 18 },
      ],
    }).finish();
    const path = join(dir, 'big.onnx');
    await writeFile(path, model);
    const before = process.memoryUsage().arrayBuffers;
    const header = await readOnnxHeader(path);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(4 * 1024 * 1024);
    expect(header).toEqual({
      irVersion: 9,
      opsetImports: [
        { domain: 'ai.onnx.ml', version: 3 },
        { domain: '', version: 18 },
      ],
      producerName: 'meridian-test',
      producerVersion: '',
    });
  });

  it('throws OnnxHeaderError for an empty file', async () => {
    const path = join(dir, 'empty.onnx');
    await writeFile(path, '');
    await expect(readOnnxHeader(path)).rejects.toBeInstanceOf(OnnxHeaderError);
  });
});
