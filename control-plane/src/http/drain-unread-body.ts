import type { MiddlewareHandler } from 'hono';

/** As much of an unread body as is read to keep its connection; past this it is cheaper to close it. */
const MAX_DRAIN_BYTES = 64 * 1024 * 1024;

/**
 * Reads and drops what is left of a request body once its answer is made (a 413 by Content-Length, a 404 to
 * an upload), so the kept-alive connection can carry the client's next request. @hono/node-server tries to
 * drain such a body itself, but once the Request's body stream exists (any middleware that looked at
 * `c.req.raw.body` made it) that stream holds the socket paused while nobody reads it, and the server gives
 * up after 500 ms and destroys the connection: the client's next request on it fails, or, with the upload
 * still being written, the answer itself is lost to a reset.
 */
export function drainUnreadBody(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return;
    const body = c.req.raw.body;
    // Locked: the handler read it (to its end) or still holds it; neither needs help.
    if (body && !body.locked) void discard(body);
  };
}

async function discard(body: ReadableStream<Uint8Array>): Promise<void> {
  const reader = body.getReader();
  let seen = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      seen += value.byteLength;
      if (seen > MAX_DRAIN_BYTES) {
        await reader.cancel();
        return;
      }
    }
  } catch {
    // The client went away mid-body: nothing left to keep.
  }
}
