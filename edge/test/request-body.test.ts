import { exports } from 'cloudflare:workers';
import { ErrorEnvelope, OipError } from '@meridian/protocol';
import { describe, expect, it } from 'vitest';
import { EdgeError } from '../src/errors.js';
import { MAX_HEADER_BYTES, readBody } from '../src/request-body.js';

/** A body sent without a length, as a chunked upload arrives: `chunks` pieces of `size` bytes. */
function chunked(chunks: number, size: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent === chunks) return controller.close();
      sent += 1;
      controller.enqueue(new Uint8Array(size).fill(sent & 0xff));
    },
  });
}

function post(body: BodyInit, headers: Record<string, string> = {}): Request {
  return new Request('https://edge.test/v2/models/m/infer', { method: 'POST', body, headers });
}

async function refusal(promise: Promise<unknown>): Promise<EdgeError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof EdgeError)) throw new Error(`expected an EdgeError, got ${String(err)}`);
  return err;
}

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

describe('readBody', () => {
  it('reads a chunked body whole, in order', async () => {
    const body = await readBody(post(chunked(5, 300_000)), 2_000_000);

    expect(body.byteLength).toBe(1_500_000);
    expect([body[0], body[299_999], body[300_000], body[1_499_999]]).toEqual([1, 1, 2, 5]);
  });

  it('refuses a chunked body past the limit with 413 as soon as it passes it', async () => {
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 1;
        controller.enqueue(new Uint8Array(64 * 1024));
      },
    });

    const err = await refusal(readBody(post(endless), 1_000_000));

    expect(err.code).toBe('payload_too_large');
    // Counted while it streams: it stops within a block (1 MiB) of the limit, never reading to the end.
    expect(pulled * 64 * 1024).toBeLessThan(3 * 1024 * 1024);
  });

  it('refuses a declared Content-Length past the limit before reading', async () => {
    const err = await refusal(readBody(post('x'.repeat(2_000), { 'content-length': '2000' }), 1_000));

    expect(err.code).toBe('payload_too_large');
  });

  it('decodes a gzip body, and applies the limit to the decoded bytes', async () => {
    const plain = new TextEncoder().encode(JSON.stringify({ inputs: Array(10_000).fill(0) }));
    const packed = await gzip(plain);

    const body = await readBody(post(packed, { 'content-encoding': 'gzip' }), 1_000_000);
    expect(new TextDecoder().decode(body)).toBe(new TextDecoder().decode(plain));

    // A small bomb: 5 MB of zeros in a few KB.
    const bomb = await gzip(new Uint8Array(5_000_000));
    expect(bomb.byteLength).toBeLessThan(100_000);
    expect((await refusal(readBody(post(bomb, { 'content-encoding': 'gzip' }), 1_000_000))).code).toBe(
      'payload_too_large',
    );
  });

  it('refuses a body that claims gzip and is not with 400', async () => {
    const err = await refusal(readBody(post('not gzip at all', { 'content-encoding': 'gzip' })));

    expect(err.code).toBe('bad_request');
    expect(err.message).toMatch(/not valid gzip/);
  });

  it('refuses an encoding it does not decode with 415 naming it', async () => {
    const err = await refusal(readBody(post('{}', { 'content-encoding': 'br' })));

    expect(err.code).toBe('unsupported_media_type');
    expect(err.message).toContain("'br'");
  });
});

// Through the Worker's real fetch handler, inside workerd: no control plane is needed for these refusals.
function call(path: string, init: RequestInit = {}): Promise<Response> {
  return exports.default.fetch(`https://edge.test${path}`, init);
}

describe('error bodies', () => {
  it("answers /v2 refusals in OIP's shape, a string error with the code and request id beside it", async () => {
    for (const [path, init, status] of [
      ['/v2/models/m/infer', { method: 'POST', body: '{}' }, 401],
      [
        '/v2/models/m/infer',
        { method: 'POST', body: '{}', headers: { authorization: 'Bearer mk_live_x' } },
        401,
      ],
      ['/v2/models/m/ready', {}, 401],
      ['/v2/no/such/route', {}, 404],
      [
        '/v2/models/m/infer',
        { method: 'POST', body: '{}', headers: { 'x-pad': 'a'.repeat(MAX_HEADER_BYTES) } },
        431,
      ],
    ] as const) {
      const res = await call(path, init);

      expect(res.status, path).toBe(status);
      const body = (await res.json()) as Record<string, unknown>;
      expect(OipError.safeParse(body).success, JSON.stringify(body)).toBe(true);
      expect(body.requestId).toBe(res.headers.get('x-request-id'));
      expect(typeof body.code).toBe('string');
    }
    // The first call through the Worker loads it, which takes seconds on a busy machine.
  }, 20_000);

  it('keeps the edge envelope on routes outside /v2', async () => {
    const res = await call('/v1/deployments/d/predict', { method: 'POST', body: '{}' });

    expect(res.status).toBe(401);
    expect(ErrorEnvelope.parse(await res.json()).error.code).toBe('unauthenticated');
  });

  it('answers a refusal to a client still sending its body, with the body drained', async () => {
    // 8 MiB sent in 64 KiB pieces, no length: workerd alone would drop the connection after 1 MiB.
    const res = await call('/v2/models/m/infer', { method: 'POST', body: chunked(128, 64 * 1024) });

    expect(res.status).toBe(401);
    expect(OipError.parse(await res.json()).error).toMatch(/Missing credential/);
  });
});
