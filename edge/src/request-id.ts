import type { MiddlewareHandler } from 'hono';

export const REQUEST_ID_HEADER = 'x-request-id';

export type RequestIdVariables = { requestId: string };

// Caller-supplied ids end up in logs and response headers, so only short, plain tokens are trusted.
const VALID_REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** Whether a caller-supplied request id is safe to reuse as ours. */
export function isValidRequestId(value: string | undefined): value is string {
  return value !== undefined && VALID_REQUEST_ID.test(value);
}

/** Adopts a valid incoming `x-request-id` or mints one, and echoes it on the response. */
export function requestId(): MiddlewareHandler<{ Variables: RequestIdVariables }> {
  return async (c, next) => {
    const incoming = c.req.header(REQUEST_ID_HEADER);
    const id = isValidRequestId(incoming) ? incoming : crypto.randomUUID();
    c.set('requestId', id);
    // Set before next() so the header also lands on notFound and onError responses.
    c.header(REQUEST_ID_HEADER, id);
    await next();
    // hono applies headers set before next() only to answers it builds (c.json, c.body): a route that returns
    // its own Response (a prediction streamed through) gets the id here.
    const res = c.res;
    if (res.status === 101 || res.headers.has(REQUEST_ID_HEADER)) return;
    try {
      res.headers.set(REQUEST_ID_HEADER, id);
    } catch {
      // Immutable headers (a fetched Response returned as it is): copy the answer once to add the id.
      c.res = new Response(res.body, res);
      c.res.headers.set(REQUEST_ID_HEADER, id);
    }
  };
}
