import type { MiddlewareHandler } from 'hono';

// What a browser page may send and read: OIP's binary extension header, the key, the request id.
const ALLOW_METHODS = 'GET, POST, OPTIONS';
const ALLOW_HEADERS =
  'authorization, content-type, inference-header-content-length, x-request-id, idempotency-key';
const EXPOSE_HEADERS = 'x-request-id, retry-after, inference-header-content-length, content-length';
const MAX_AGE_SECONDS = '600';

const parsed = new Map<string, ReadonlySet<string>>();

/** The origins in DASHBOARD_ORIGINS (comma-separated, e.g. "https://app.meridian.dev"), parsed once. */
export function allowedOrigins(setting: string | undefined): ReadonlySet<string> {
  const key = setting ?? '';
  let origins = parsed.get(key);
  if (!origins) {
    origins = new Set(
      key
        .split(',')
        .map((o) => o.trim().replace(/\/+$/, ''))
        .filter((o) => o !== ''),
    );
    parsed.set(key, origins);
  }
  return origins;
}

/**
 * CORS for the dashboard's predictions from the browser: preflights from a configured origin are
 * answered (Authorization allowed), every other preflight is refused, and answers to a configured origin
 * carry Access-Control-Allow-Origin. No credentials mode: the key travels in Authorization, never a cookie.
 * Notebooks are left alone: they open in their own tab on the edge's origin.
 */
export function cors(): MiddlewareHandler<{ Bindings: { DASHBOARD_ORIGINS?: string } }> {
  return async (c, next) => {
    const origin = c.req.header('origin');
    if (origin === undefined || c.req.path.startsWith('/notebooks/')) return next();
    const allowed = allowedOrigins(c.env.DASHBOARD_ORIGINS).has(origin);
    if (c.req.method === 'OPTIONS' && c.req.header('access-control-request-method') !== undefined) {
      if (!allowed) return c.body(null, 403, { vary: 'Origin' });
      return c.body(null, 204, {
        'access-control-allow-origin': origin,
        'access-control-allow-methods': ALLOW_METHODS,
        'access-control-allow-headers': ALLOW_HEADERS,
        'access-control-max-age': MAX_AGE_SECONDS,
        vary: 'Origin',
      });
    }
    await next();
    if (!allowed) return;
    c.res.headers.set('access-control-allow-origin', origin);
    c.res.headers.set('access-control-expose-headers', EXPOSE_HEADERS);
    c.res.headers.append('vary', 'Origin');
  };
}
