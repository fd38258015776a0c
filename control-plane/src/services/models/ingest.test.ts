import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REAL_MODELS } from '../../onnx/test-models.js';
import { discard, ingest, ModelTooLargeError } from './ingest.js';

/** `count` chunks of `size` bytes, made as they are read. */
function* chunks(count: number, size: number) {
  for (let i = 0; i < count; i++) yield Buffer.alloc(size, i % 251);
}

describe('ingest', () => {
  let tempRoot: string;
  beforeEach(async () => {
    tempRoot = await mkdtemp(join(tmpdir(), 'ingest-test-'));
  });
  afterEach(() => rm(tempRoot, { recursive: true, force: true }));

  it('hashes and counts what it passes on, and loads an ONNX copy it then deletes', async () => {
    const bytes = readFileSync(REAL_MODELS.paddleCls);
    const received: Buffer[] = [];
    const result = await ingest(Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]), {
      maxBytes: bytes.length,
      inspectOnnx: true,
      tempRoot,
      consume: (body) =>
        pipeline(
          body,
          new Writable({
            write(chunk: Buffer, _encoding, callback) {
              received.push(chunk);
              callback();
            },
          }),
        ),
    });
    expect(Buffer.concat(received).equals(bytes)).toBe(true);
    expect(result.sizeBytes).toBe(bytes.length);
    expect(result.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(result.inspection).toMatchObject({ ok: true, signature: { opset: 9 } });
    expect(await readdir(tempRoot)).toEqual([]);
  });

  it('fails with ModelTooLargeError one byte past the limit and removes its temp copy', async () => {
    const attempt = ingest(Readable.from(chunks(5, 1000)), {
      maxBytes: 4999,
      inspectOnnx: true,
      tempRoot,
      consume: discard,
    });
    await expect(attempt).rejects.toBeInstanceOf(ModelTooLargeError);
    expect(await readdir(tempRoot)).toEqual([]);
  });

  it('does not hang when the consumer fails before reading anything', async () => {
    const attempt = ingest(Readable.from(chunks(1000, 64 * 1024)), {
      maxBytes: 1e12,
      inspectOnnx: false,
      consume: async () => {
        throw new Error('store unavailable');
      },
    });
    await expect(attempt).rejects.toThrow('store unavailable');
  });

  it('reads no faster than a slow consumer takes, so memory stays flat', async () => {
    let produced = 0;
    let consumed = 0;
    let maxAhead = 0;
    const source = Readable.from(
      (function* () {
        for (const chunk of chunks(400, 64 * 1024)) {
          produced += chunk.length;
          yield chunk;
        }
      })(),
    );
    const slow = new Writable({
      highWaterMark: 64 * 1024,
      write(chunk: Buffer, _encoding, callback) {
        consumed += chunk.length;
        maxAhead = Math.max(maxAhead, produced - consumed);
        setImmediate(callback);
      },
    });
    const result = await ingest(source, {
      maxBytes: 1e12,
      inspectOnnx: true,
      tempRoot,
      consume: (body) => pipeline(body, slow),
    });
    expect(result.sizeBytes).toBe(400 * 64 * 1024);
    // 25 MiB passed; never more than the streams' buffers (about 1 MiB each way) sat in between.
    expect(maxAhead).toBeLessThan(4 * 1024 * 1024);
  });
});
