/** The body is larger than the data plane accepts. */
export class BodyTooLargeError extends Error {
  override name = 'BodyTooLargeError';
  constructor(readonly limit: number) {
    super(`request body exceeds ${limit} bytes`);
  }
}

/**
 * Reads a request body into one Uint8Array, refusing more than `limit` bytes: a declared Content-Length
 * over the limit fails before any byte is read, a chunked body as soon as it passes the limit.
 */
export async function readBodyLimited(request: Request, limit: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get('content-length') ?? Number.NaN);
  if (declared > limit) throw new BodyTooLargeError(limit);
  // A declared length bounds the body (the HTTP parser enforces it), so read it in one piece:
  // @hono/node-server serves arrayBuffer() straight from the socket, without building a web Request,
  // an AbortSignal and a ReadableStream (~100 µs a request). Chunked bodies stream, to stop at the limit.
  if (Number.isSafeInteger(declared)) return new Uint8Array(await request.arrayBuffer());
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      throw new BodyTooLargeError(limit);
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
