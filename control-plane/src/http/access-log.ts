import type { MiddlewareHandler } from 'hono';
import type { Logger } from '../lib/logger.js';
import type { AppEnv } from './context.js';

/** One structured line per request: no headers, no query string, no body, so no secret can leak. */
export function accessLog(logger: Logger): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    await next();
    const principal = c.var.principal;
    logger.info('request', {
      requestId: c.var.requestId,
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      durationMs: Math.round((performance.now() - started) * 100) / 100,
      clientIp: c.var.clientIp,
      actor: principal ? (principal.type === 'user' ? principal.userId : principal.keyId) : undefined,
    });
  };
}
