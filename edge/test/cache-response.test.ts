import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { INFERENCE_HEADER_CONTENT_LENGTH } from '@meridian/protocol';
import { describe, expect, it } from 'vitest';
import {
  canonicalBodyHash,
  canonicalJson,
  isCacheable,
  ResponseCache,
  responseCacheKey,
} from '../src/cache/response-cache.js';
import { deployment, json, replica, version } from './helpers/routing-fixtures.js';

const text = (s: string) => new TextEncoder().encode(s);
let unique = 0;

// Each test's bodies are its own, so nothing one test stores answers another.
function body(value: Record<string, unknown>): Record<string, unknown> {
  unique += 1;
  return { id: `req-${unique}-${crypto.randomUUID()}`, ...value };
}

async function keyOf(value: string, versionId = 'ver_1'): Promise<string> {
  return responseCacheKey(versionId, await canonicalBodyHash(text(value), 'application/json'));
}

async function stored(cache: ResponseCache, key: string, response: Response): Promise<Response> {
  const ctx = createExecutionContext();
  const answer = cache.store(key, response, ctx);
  const payload = await answer.arrayBuffer();
  await waitOnExecutionContext(ctx);
  return new Response(payload, answer);
}

describe('canonicalBodyHash', () => {
  it('is the same for JSON bodies that differ only in key order and whitespace', async () => {
    const x =
      '{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","data":[1.5,2]}],"parameters":{"b":1,"a":2}}';
    const y =
      ' { "parameters" : {"a":2,"b":1}, "inputs":[{"data":[1.5, 2],"datatype":"FP32","name":"x","shape":[2]}]}\n';

    expect(await canonicalBodyHash(text(x), 'application/json')).toBe(
      await canonicalBodyHash(text(y), 'application/json'),
    );
    expect(canonicalJson(text(y))).toBe(
      '{"inputs":[{"data":[1.5,2],"datatype":"FP32","name":"x","shape":[2]}],"parameters":{"a":2,"b":1}}',
    );
  });

  it('keeps number literals, so 64-bit integers that round alike never share a hash', async () => {
    const a = await canonicalBodyHash(text('{"data":[9007199254740993]}'), 'application/json');
    const b = await canonicalBodyHash(text('{"data":[9007199254740992]}'), 'application/json');

    expect(a).not.toBe(b);
  });

  it('differs when values, array order or the binary header length differ', async () => {
    const hashes = await Promise.all([
      canonicalBodyHash(text('{"data":[1,2]}'), 'application/json'),
      canonicalBodyHash(text('{"data":[2,1]}'), 'application/json'),
      canonicalBodyHash(text('{"data":[1,2]}'), 'application/octet-stream', '14'),
      canonicalBodyHash(text('{"data":[1,2]}'), 'application/octet-stream', '13'),
      canonicalBodyHash(text('{"data":[1,2]}'), 'text/plain'),
    ]);

    expect(new Set(hashes).size).toBe(hashes.length);
    for (const h of hashes) expect(h).toMatch(/^[0-9a-f]{64}$/);
  });

  it('keeps a "__proto__" key as a key', () => {
    expect(canonicalJson(text('{"b":2,"__proto__":{"x":1}}'))).toBe('{"__proto__":{"x":1},"b":2}');
  });

  it('hashes a body that is not valid JSON as raw bytes', async () => {
    expect(await canonicalBodyHash(text('{"a":'), 'application/json')).toBe(
      await canonicalBodyHash(text('{"a":'), 'text/plain'),
    );
  });
});

describe('ResponseCache', () => {
  it('answers a stored 200 as a hit, with its body and content headers', async () => {
    const cache = new ResponseCache();
    const request = JSON.stringify(body({ inputs: [1] }));
    const key = await keyOf(request);

    expect(await cache.lookup(key)).toBeUndefined();
    const miss = await stored(cache, key, json({ outputs: [42] }));
    expect(miss.headers.get('cache-status')).toBe('meridian-edge; fwd=miss; stored');
    expect(await miss.json()).toEqual({ outputs: [42] });

    const hit = await cache.lookup(key);
    expect(hit?.status).toBe(200);
    expect(hit?.headers.get('cache-status')).toBe('meridian-edge; hit');
    expect(hit?.headers.get('content-type')).toBe('application/json');
    expect(await hit?.json()).toEqual({ outputs: [42] });
  });

  it('hits for a body with its keys in another order', async () => {
    const cache = new ResponseCache();
    const value = body({ inputs: [{ name: 'x', data: [1] }], parameters: { z: 1, a: 2 } });
    await stored(cache, await keyOf(JSON.stringify(value)), json({ outputs: [7] }));

    const reordered = `{${Object.entries(value)
      .reverse()
      .map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`)
      .join(', ')}}`;
    const hit = await cache.lookup(await keyOf(reordered));

    expect(await hit?.json()).toEqual({ outputs: [7] });
  });

  it('keys by model version: another version misses', async () => {
    const cache = new ResponseCache();
    const request = JSON.stringify(body({ inputs: [2] }));
    await stored(cache, await keyOf(request, 'ver_1'), json({ outputs: [1] }));

    expect(await cache.lookup(await keyOf(request, 'ver_2'))).toBeUndefined();
  });

  it('replays binary answers with their Inference-Header-Content-Length', async () => {
    const cache = new ResponseCache();
    const bytes = text(JSON.stringify(body({ binary: true })));
    const key = responseCacheKey('ver_1', await canonicalBodyHash(bytes, 'application/octet-stream', '20'));
    const answer = new Response(Uint8Array.from([9, 8, 7]), {
      headers: { 'content-type': 'application/octet-stream', [INFERENCE_HEADER_CONTENT_LENGTH]: '1' },
    });
    await stored(cache, key, answer);

    const hit = await cache.lookup(key);
    expect(hit?.headers.get(INFERENCE_HEADER_CONTENT_LENGTH)).toBe('1');
    expect(new Uint8Array((await hit?.arrayBuffer()) ?? new ArrayBuffer(0))).toEqual(
      Uint8Array.from([9, 8, 7]),
    );
  });

  it('never stores an answer other than 200', async () => {
    const cache = new ResponseCache();
    const key = await keyOf(JSON.stringify(body({ inputs: [3] })));

    const answer = await stored(cache, key, json({ error: 'bad shape' }, 400));

    expect(answer.status).toBe(400);
    expect(answer.headers.get('cache-status')).toBe('meridian-edge; fwd=miss');
    expect(await cache.lookup(key)).toBeUndefined();
  });
});

describe('isCacheable', () => {
  const deterministic = deployment('d', [version(1, 100, [replica(1)])], { deterministic: true });
  const random = deployment('r', [version(1, 100, [replica(1)])], { deterministic: false });

  it('caches only infer calls of deterministic deployments', () => {
    expect(isCacheable(deterministic, 'POST', '/infer')).toBe(true);
    expect(isCacheable(random, 'POST', '/infer')).toBe(false);
    expect(isCacheable(deterministic, 'GET', '/ready')).toBe(false);
    expect(isCacheable(deterministic, 'GET', '')).toBe(false);
  });
});
