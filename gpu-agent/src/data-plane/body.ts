import type { IncomingMessage } from 'node:http';
import { INFERENCE_HEADER_CONTENT_LENGTH } from '@meridian/protocol';
import { takeBodyBuffer } from './body-pool.js';

/** The body is larger than the data plane accepts. */
export class BodyTooLargeError extends Error {
  override name = 'BodyTooLargeError';
  constructor(readonly limit: number) {
    super(`request body exceeds ${limit} bytes`);
  }
}

/** The client went away before the body it declared had arrived. */
export class BodyIncompleteError extends Error {
  override name = 'BodyIncompleteError';
}

/**
 * Reads a request body into one Uint8Array, refusing more than `limit` bytes: a declared Content-Length
 * over the limit fails before any byte is read, a chunked body as soon as it passes the limit. `incoming`
 * is the Node request under `request` where @hono/node-server serves the app (its `env.incoming`).
 */
export async function readBodyLimited(
  request: Request,
  limit: number,
  incoming?: IncomingMessage,
): Promise<Uint8Array> {
  const declared = Number(request.headers.get('content-length') ?? Number.NaN);
  if (declared > limit) throw new BodyTooLargeError(limit);
  if (Number.isSafeInteger(declared)) {
    // A declared length bounds the body (the HTTP parser enforces it). From the socket's chunks straight
    // into one buffer: request.arrayBuffer() would copy the body twice (concat, then slice).
    if (incoming && !incoming.readableDidRead)
      return readDeclared(incoming, declared, alignPad(request.headers.get(INFERENCE_HEADER_CONTENT_LENGTH)));
    return new Uint8Array(await request.arrayBuffer());
  }
  if (!request.body) return new Uint8Array(0);
  return readStreamLimited(request.body, limit, () => new BodyTooLargeError(limit));
}

/**
 * A body stream read whole into one Uint8Array, cancelled with `tooLarge()` thrown as soon as it passes
 * `limit` bytes (a request's chunked body, a model server's answer).
 */
export async function readStreamLimited(
  stream: ReadableStream<Uint8Array>,
  limit: number,
  tooLarge: () => Error,
): Promise<Uint8Array> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  if (chunks.length === 1 && chunks[0]) return chunks[0];
  const body = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    body.set(c, at);
    at += c.byteLength;
  }
  return body;
}

/**
 * Bytes to leave before the body so that the binary tensors after an OIP JSON header start 8-byte
 * aligned: they then decode as views of the body, not copies.
 */
function alignPad(inferenceHeaderLength: string | null | undefined): number {
  const header = Number(inferenceHeaderLength ?? Number.NaN);
  return Number.isSafeInteger(header) && header > 0 ? (8 - (header % 8)) % 8 : 0;
}

/** readBodyLimited for a Node request read directly (the data plane's fast path): the same rules. */
export async function readIncomingBody(incoming: IncomingMessage, limit: number): Promise<Uint8Array> {
  const declared = Number(incoming.headers['content-length'] ?? Number.NaN);
  if (declared > limit) throw new BodyTooLargeError(limit);
  const pad = alignPad(incoming.headers[INFERENCE_HEADER_CONTENT_LENGTH] as string | undefined);
  if (Number.isSafeInteger(declared)) return readDeclared(incoming, declared, pad);
  return readUpTo(incoming, limit, pad);
}

/** A body of unknown length (chunked), collected up to `limit`, then laid out as readDeclared does. */
async function readUpTo(incoming: IncomingMessage, limit: number, pad: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let total = 0;
  await eachChunk(incoming, (chunk) => {
    total += chunk.byteLength;
    if (total > limit) return new BodyTooLargeError(limit);
    chunks.push(chunk);
  });
  const body = alignedBody(total, pad);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.byteLength;
  }
  return body;
}

async function readDeclared(incoming: IncomingMessage, length: number, pad: number): Promise<Uint8Array> {
  const body = alignedBody(length, pad);
  let at = 0;
  await eachChunk(incoming, (chunk) => {
    if (at + chunk.byteLength > length) return new BodyIncompleteError('body exceeds its length');
    body.set(chunk, at);
    at += chunk.byteLength;
  });
  if (at !== length) throw new BodyIncompleteError('the client closed before the body ended');
  return body;
}

/**
 * `length` bytes starting `pad` bytes into a buffer of the request's own (a worker session may take it):
 * uninitialised, every byte is written by the caller; large ones may be recycled (body-pool.ts).
 */
function alignedBody(length: number, pad: number): Uint8Array {
  return new Uint8Array(takeBodyBuffer(pad + length), pad, length);
}

/**
 * Hands every chunk of the body to `onChunk` until it ends. An error `onChunk` returns stops the reading
 * and rejects; so do a stream error and a client that leaves before the end.
 */
function eachChunk(incoming: IncomingMessage, onChunk: (chunk: Buffer) => Error | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    // 'end', 'close' (the client went away) and 'error' all settle here; whichever comes first wins.
    const settle = (err?: Error) => {
      incoming.off('data', onData).off('end', settle).off('close', settle).off('error', settle);
      if (err) reject(err);
      else if (!incoming.complete) reject(new BodyIncompleteError('the client closed before the body ended'));
      else resolve();
    };
    const onData = (chunk: Buffer) => {
      const refused = onChunk(chunk);
      if (refused) {
        incoming.pause();
        settle(refused);
      }
    };
    incoming.on('data', onData).on('end', settle).on('close', settle).on('error', settle);
  });
}
