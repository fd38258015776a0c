// The guards route files share: who may call a route (the edge's and the operator's service tokens), and
// the actor an audited change is recorded under. Here rather than in one route file, so routes import
// them from below instead of from their siblings.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import type { Actor } from '../auth/principal.js';
import { unauthenticated } from '../errors.js';
import type { AppEnv } from './context.js';

/** Only the edge, holding the service token, may call /internal routes. */
export function requireEdgeToken(expected: string): MiddlewareHandler<AppEnv> {
  const expectedBytes = Buffer.from(expected);
  return async (c, next) => {
    const presented = Buffer.from(c.req.header('authorization')?.replace(/^Bearer /i, '') ?? '');
    const ok = presented.length === expectedBytes.length && timingSafeEqual(presented, expectedBytes);
    if (!ok) throw unauthenticated('This route needs the edge service credential');
    await next();
  };
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Only a platform operator, holding the operator token, may call these routes. */
export function requireOperatorToken(expected: string): MiddlewareHandler<AppEnv> {
  // Comparing digests keeps the comparison constant-time whatever the presented length.
  const expectedDigest = digest(expected);
  return async (c, next) => {
    const presented = c.req.header('authorization')?.match(/^Bearer (.+)$/i)?.[1];
    if (!presented || !timingSafeEqual(digest(presented), expectedDigest)) {
      throw unauthenticated('This route needs the operator credential');
    }
    await next();
  };
}

/** The caller of a request as audited changes record it. */
export function actorOf(c: Context<AppEnv>): Actor {
  return { principal: c.var.principal, requestId: c.var.requestId, clientIp: c.var.clientIp };
}
