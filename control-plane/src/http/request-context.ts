import { getConnInfo } from '@hono/node-server/conninfo';
import { newId } from '@meridian/protocol';
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './context.js';

const VALID_REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** Assigns the request id (a caller's well-formed X-Request-Id is kept) and works out the client IP. */
export function requestContext(trustProxy: boolean): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const incoming = c.req.header('x-request-id');
    const requestId = incoming && VALID_REQUEST_ID.test(incoming) ? incoming : newId('request');
    c.set('requestId', requestId);
    c.set('clientIp', clientIp(c, trustProxy));
    c.header('x-request-id', requestId);
    await next();
  };
}

function clientIp(c: Parameters<MiddlewareHandler<AppEnv>>[0], trustProxy: boolean): string | null {
  if (trustProxy) {
    const forwarded = c.req.header('x-forwarded-for')?.split(',')[0]?.trim();
    if (forwarded) return forwarded.slice(0, 64);
  }
  try {
    return getConnInfo(c).remote.address ?? null;
  } catch {
    // app.request() in tests has no socket.
    return null;
  }
}
