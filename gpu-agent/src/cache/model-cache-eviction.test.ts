import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ModelSource } from './download.js';
import { ModelCacheError } from './errors.js';
import { ModelCache } from './model-cache.js';
import { TestBlobServer } from './test-blob-server.js';

let server: TestBlobServer;
let dir = '';
let clock = 0;
const sources = new Map<string, ModelSource>();

beforeAll(async () => {
  server = await TestBlobServer.start();
  // Four 1,000-byte models: a budget of 3,000 bytes holds any three of them.
  for (const id of ['a', 'b', 'c', 'd']) sources.set(id, server.put(`models/${id}.bin`, randomBytes(1000)));
  sources.set('big', server.put('models/big.bin', randomBytes(2500)));
});
afterAll(() => server.close());
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'model-cache-lru-'));
  clock = 0;
});
afterEach(() => rm(dir, { recursive: true, force: true }));

function source(id: string): ModelSource {
  const found = sources.get(id);
  if (!found) throw new Error(`no blob ${id}`);
  return found;
}

const newCache = (budgetBytes = 3000) => new ModelCache(dir, { budgetBytes, now: () => ++clock });
const ensure = (cache: ModelCache, id: string) => cache.ensure(`ver_${id}`, source(id));
const cachedIds = async (cache: ModelCache) => (await cache.list()).map((m) => m.versionId);
const filesOnDisk = async () => (await readdir(join(dir, 'files'))).sort();

async function budgetError(promise: Promise<unknown>): Promise<ModelCacheError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ModelCacheError) || err.kind !== 'budget')
    throw new Error(`expected a budget error: ${String(err)}`);
  return err;
}

describe('ModelCache eviction', () => {
  it('evicts the least recently used model when a new one does not fit', async () => {
    const cache = newCache();
    for (const id of ['a', 'b', 'c']) await ensure(cache, id);
    await ensure(cache, 'a'); // a is now the most recently used; b the least
    await ensure(cache, 'd');
    expect(await cachedIds(cache)).toEqual(['ver_c', 'ver_a', 'ver_d']);
    expect(await filesOnDisk()).toEqual(['ver_a', 'ver_c', 'ver_d']);
  });

  it('evicts as many models as the incoming one needs, oldest first', async () => {
    const cache = newCache();
    for (const id of ['a', 'b', 'c']) await ensure(cache, id);
    await ensure(cache, 'big');
    expect(await cachedIds(cache)).toEqual(['ver_big']);
    expect(await filesOnDisk()).toEqual(['ver_big']);
  });

  it('never evicts a pinned model, even the least recently used', async () => {
    const cache = newCache();
    for (const id of ['a', 'b', 'c']) await ensure(cache, id);
    cache.pin('ver_a');
    await ensure(cache, 'd');
    expect(await cachedIds(cache)).toEqual(['ver_a', 'ver_c', 'ver_d']);
    expect((await cache.list()).find((m) => m.versionId === 'ver_a')?.pinned).toBe(true);
  });

  it('fails clearly, evicting nothing, when pinned models leave no room', async () => {
    const cache = newCache();
    for (const id of ['a', 'b', 'c']) {
      cache.pin(`ver_${id}`);
      await ensure(cache, id);
    }
    cache.unpin('ver_c');
    const bigHits = server.hits('models/big.bin');
    const err = await budgetError(ensure(cache, 'big'));
    expect(err.message).toMatch(
      /ver_big needs 2500 bytes but only 1000 of the 3000-byte cache budget can be made available/,
    );
    expect(await filesOnDisk()).toEqual(['ver_a', 'ver_b', 'ver_c']);
    expect(server.hits('models/big.bin')).toBe(bigHits);

    cache.unpin('ver_a');
    cache.unpin('ver_b');
    await ensure(cache, 'big');
    expect(await cachedIds(cache)).toEqual(['ver_big']);
  });

  it('counts pins: a model pinned twice stays protected until unpinned twice', async () => {
    const cache = newCache(2000);
    cache.pin('ver_a');
    cache.pin('ver_a');
    await ensure(cache, 'a');
    await ensure(cache, 'b');
    cache.unpin('ver_a');
    await ensure(cache, 'c');
    expect(await cachedIds(cache)).toEqual(['ver_a', 'ver_c']);
    cache.unpin('ver_a');
    await ensure(cache, 'd');
    expect(await cachedIds(cache)).toEqual(['ver_c', 'ver_d']);
  });

  it('refuses a model larger than the whole budget without downloading it', async () => {
    const cache = newCache(2000);
    await ensure(cache, 'a');
    const bigHits = server.hits('models/big.bin');
    await budgetError(ensure(cache, 'big'));
    expect(server.hits('models/big.bin')).toBe(bigHits);
    expect(await cachedIds(cache)).toEqual(['ver_a']);
  });

  it('counts downloads in progress against the budget', async () => {
    const cache = newCache(1500);
    const results = await Promise.allSettled([ensure(cache, 'a'), ensure(cache, 'b')]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    expect(await cachedIds(cache)).toEqual(['ver_a']);
  });

  it('keeps the recency order across a restart', async () => {
    const first = newCache();
    for (const id of ['a', 'b', 'c']) await ensure(first, id);
    await ensure(first, 'a');
    const aHits = server.hits('models/a.bin');
    const second = newCache();
    await ensure(second, 'd');
    expect(await cachedIds(second)).toEqual(['ver_c', 'ver_a', 'ver_d']);
    await ensure(second, 'a');
    expect(server.hits('models/a.bin')).toBe(aHits);
  });
});
