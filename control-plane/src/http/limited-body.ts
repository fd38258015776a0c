import { pipeline, Readable, Transform } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import type { Context } from 'hono';
import type { AppError } from '../errors.js';

/**
 * The request body as a Node stream that fails with `tooLarge()` (a 413) once it passes `maxBytes`. Streamed,
 * never held whole: hono's bodyLimit counts a body that has no Content-Length (an agent's tar, sent as it is
 * made) by buffering it, up to the limit. A declared length over the limit is refused before any byte is read.
 * Undefined when the request has no body.
 */
export function limitedBody(c: Context, maxBytes: number, tooLarge: () => AppError): Readable | undefined {
  const declared = c.req.header('content-length');
  if (declared !== undefined && Number(declared) > maxBytes) throw tooLarge();
  const body = c.req.raw.body;
  if (!body) return undefined;
  let seen = 0;
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      done(seen > maxBytes ? tooLarge() : null, chunk);
    },
  });
  // pipeline, not pipe: a client that goes away mid-body fails the stream its reader holds.
  return pipeline(Readable.fromWeb(body as unknown as NodeReadableStream<Uint8Array>), counted, () => {});
}
