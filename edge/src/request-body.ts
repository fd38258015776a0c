import type { MiddlewareHandler } from 'hono';
import { EdgeError } from './errors.js';

/** The largest request body the edge reads (after decoding); a larger one gets 413 without being held. */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;

/**
 * How much of an unread body the edge reads and throws away around an answer given without it (a refusal
 * before forwarding, a 413). workerd itself discards at most 1 MiB for at most 1 s after an answer and then
 * closes the connection under a client that is still sending, which then sees ECONNRESET instead of the
 * answer. A client sending more than this, or for longer, may still see its connection closed.
 */
export const DISCARD_MAX_BYTES = 2 * MAX_BODY_BYTES;
export const DISCARD_MS = 10_000;

/** Request headers beyond this many bytes are refused (431) before anything else looks at them. */
export const MAX_HEADER_BYTES = 32 * 1024;

type Compression = 'gzip' | 'deflate';

/** Content-Encoding values the edge decodes before it forwards; any other is refused with 415. */
const DECODED = new Map<string, Compression>([
  ['gzip', 'gzip'],
  ['x-gzip', 'gzip'],
  ['deflate', 'deflate'],
]);

/** A chunked body is gathered in blocks of this size, read straight into them (no copy per chunk). */
const BLOCK_BYTES = 1024 * 1024;
/** What a discarded body is read into, again and again. */
const SCRATCH_BYTES = 64 * 1024;

const INCOMPLETE = 'the request body ended before it was complete';
const tooLarge = () => new EdgeError('payload_too_large', `bodies are limited to ${MAX_BODY_BYTES} bytes`);

/** A request body being read: the parts to keep, or the rest dropped. */
interface Source {
  read(): Promise<{ done: boolean; value?: Uint8Array | undefined }>;
  /** Reads and drops what is left, up to `maxBytes` for at most `ms`, then cancels the stream. */
  discard(maxBytes: number, ms: number): Promise<void>;
}

const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

/** Bodies a route stopped reading (413 on a chunked body): the rest is discarded with the answer. */
const leftovers = new WeakMap<Request, Source>();

/**
 * The request body, at most `limit` bytes; 413 otherwise. A declared Content-Length is checked before
 * anything is read (HTTP framing then bounds the body); a chunked body is counted as it streams into blocks
 * the edge allocates and dropped as soon as it passes the limit, so the edge never holds more than `limit`
 * plus one block of it. gzip and deflate bodies are decoded, the limit applying to the decoded bytes (a
 * small bomb cannot fill memory); any other Content-Encoding is refused with 415 naming it.
 */
export async function readBody(request: Request, limit = MAX_BODY_BYTES): Promise<Uint8Array> {
  const encoding = decodingOf(request.headers.get('content-encoding'));
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > limit) throw tooLarge();
  if (encoding === undefined && declared !== null) {
    // The common case first, without touching request.body (a stream object built on first access).
    try {
      return new Uint8Array(await request.arrayBuffer());
    } catch {
      throw new EdgeError('bad_request', INCOMPLETE);
    }
  }
  if (request.body === null) return new Uint8Array(0);
  if (encoding !== undefined) {
    const decoded = request.body.pipeThrough(new DecompressionStream(encoding));
    return readAll(request, chunkSource(decoded), limit, `the body is not valid ${encoding} data`);
  }
  return readAll(request, sourceOf(request.body), limit);
}

async function readAll(request: Request, source: Source, limit: number, broken = INCOMPLETE) {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const next = await source.read().catch(() => {
      throw new EdgeError('bad_request', broken);
    });
    if (next.value) {
      total += next.value.byteLength;
      if (total > limit) {
        parts.length = 0;
        leftovers.set(request, source);
        throw tooLarge();
      }
      parts.push(next.value);
    }
    if (next.done) return concat(parts, total);
  }
}

function decodingOf(header: string | null): Compression | undefined {
  if (header === null) return undefined;
  const coding = header.trim().toLowerCase();
  if (coding === '' || coding === 'identity') return undefined;
  const format = DECODED.get(coding);
  if (format) return format;
  throw new EdgeError(
    'unsupported_media_type',
    `Content-Encoding '${header.slice(0, 40)}' is not supported: send the body as it is, or gzip or deflate it`,
  );
}

/**
 * Reads workerd's request bodies (byte streams) into memory the edge allocates: whole blocks while the
 * body is kept, one reused scratch buffer while it is discarded. A stream built in JS (tests, another
 * Worker) has no BYOB reads and is read as it comes.
 */
function sourceOf(stream: ReadableStream<Uint8Array>): Source {
  let reader: ReadableStreamBYOBReader;
  try {
    reader = stream.getReader({ mode: 'byob' });
  } catch {
    return chunkSource(stream);
  }
  return {
    async read() {
      let block = new Uint8Array(new ArrayBuffer(BLOCK_BYTES));
      let filled = 0;
      for (;;) {
        const next = await reader.read(block.subarray(filled));
        // The read hands the block's memory back in a new view; the one passed in is detached.
        if (next.value) {
          block = new Uint8Array(next.value.buffer);
          filled += next.value.byteLength;
        }
        if (filled === BLOCK_BYTES || next.done) return { done: next.done, value: block.subarray(0, filled) };
      }
    },
    discard(maxBytes, ms) {
      let scratch = new Uint8Array(new ArrayBuffer(SCRATCH_BYTES));
      const next = async () => {
        const result = await reader.read(scratch);
        if (result.value) scratch = new Uint8Array(result.value.buffer);
        return result;
      };
      return drop(next, () => reader.cancel(), maxBytes, ms);
    },
  };
}

function chunkSource(stream: ReadableStream<Uint8Array>): Source {
  const reader = stream.getReader();
  return {
    read: () => reader.read(),
    discard: (maxBytes, ms) =>
      drop(
        () => reader.read(),
        () => reader.cancel(),
        maxBytes,
        ms,
      ),
  };
}

async function drop(
  next: () => Promise<{ done: boolean; value?: Uint8Array | undefined }>,
  cancel: () => Promise<void>,
  maxBytes: number,
  ms: number,
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const expired = new Promise<'expired'>((resolve) => {
    timer = setTimeout(() => resolve('expired'), ms);
  });
  let dropped = 0;
  try {
    while (dropped <= maxBytes) {
      const result = await Promise.race([next(), expired]);
      if (result === 'expired') break;
      if (result.done) return;
      dropped += result.value?.byteLength ?? 0;
    }
    await cancel().catch(() => {});
  } catch {
    // The client went away: nothing is left to read.
  } finally {
    if (timer !== null) clearTimeout(timer);
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  // One part that fills its memory is the body; a partly filled block is copied out, not kept whole.
  const [only] = parts;
  if (parts.length === 1 && only && only.byteLength === only.buffer.byteLength) return only;
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

/**
 * Answers at once while the unread rest of the request body is discarded. The answer goes out with its
 * length, so a client that reads while it sends (Node's fetch and undici) has all of it before it stops
 * sending, and one that reads after sending (Python's urllib) finishes sending into the drain; the
 * response stays open until the drain ends, so workerd neither closes the connection under a client still
 * sending nor cuts the drain short. This covers every answer given without the body: each refusal before
 * forwarding (401, 402, 403, 404, 413, 415, 429, 503) and unknown routes. A body a route read, or handed on
 * (the notebook proxy streams it), is left alone.
 */
export function drainUnreadBody(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    const request = c.req.raw;
    const body = request.body;
    const leftover =
      leftovers.get(request) ?? (body && !request.bodyUsed && !body.locked ? sourceOf(body) : undefined);
    if (!leftover) return;
    const answer = c.res;
    // An answer that cannot carry a body (101, 204, 304) goes as it is; the drain is then best effort.
    if (answer.body === null || NULL_BODY_STATUSES.has(answer.status)) {
      c.executionCtx.waitUntil(leftover.discard(DISCARD_MAX_BYTES, DISCARD_MS));
      return;
    }
    const bytes = new Uint8Array(await answer.arrayBuffer());
    const { readable, writable } = new FixedLengthStream(bytes.byteLength);
    const writer = writable.getWriter();
    const written = writer.write(bytes);
    // A client that goes away cancels the answer: the write then rejects, and is handled below, not left loose.
    written.catch(() => {});
    c.executionCtx.waitUntil(
      leftover
        .discard(DISCARD_MAX_BYTES, DISCARD_MS)
        .then(() => written)
        .then(() => writer.close())
        .catch(() => writer.abort().catch(() => {})),
    );
    c.res = new Response(readable, { status: answer.status, headers: answer.headers });
  };
}

/** Refuses (431) a request whose header section is larger than MAX_HEADER_BYTES. */
export function limitHeaderBytes(): MiddlewareHandler {
  return async (c, next) => {
    let bytes = 0;
    for (const [name, value] of c.req.raw.headers) bytes += name.length + value.length + 4;
    if (bytes > MAX_HEADER_BYTES)
      throw new EdgeError(
        'bad_request',
        `request headers take ${bytes} bytes; the edge accepts at most ${MAX_HEADER_BYTES}`,
        {},
        431,
      );
    await next();
  };
}
