import type { MiddlewareHandler } from 'hono';
import { unauthenticated } from '../errors.js';
import { authenticateBearer, type BearerAuthDeps } from '../services/authenticate.js';
import type { AppEnv } from './context.js';

/** Requires `Authorization: Bearer <access token or API key>` and sets `principal`. */
export function requireAuth(deps: BearerAuthDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization');
    const match = header?.match(/^Bearer ([^\s]{1,4096})$/i);
    if (!match?.[1]) throw unauthenticated('Send Authorization: Bearer <access token or API key>');
    const principal = await authenticateBearer(deps, match[1]);
    if (!principal) throw unauthenticated('The credential is invalid, expired or revoked');
    c.set('principal', principal);
    await next();
  };
}
