import { timingSafeEqual } from 'node:crypto';
import { createRoute, z } from '@hono/zod-openapi';
import { ApiKeyHash, ApiKeyResolution } from '@meridian/protocol';
import type { MiddlewareHandler } from 'hono';
import { unauthenticated } from '../errors.js';
import type { AppEnv } from '../http/context.js';
import { errors, jsonBody, jsonContent, newRouter } from '../http/openapi.js';
import { resolveApiKeyHash } from '../services/api-keys/resolve.js';
import type { RouteDeps } from './deps.js';

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

export function internalRoutes(deps: RouteDeps, edgeServiceToken: string) {
  const resolve = createRoute({
    method: 'post',
    path: '/internal/v1/api-keys/resolve',
    operationId: 'resolveApiKey',
    tags: ['internal'],
    summary: 'Edge only: resolve an API key hash to its org, scopes, limits and status',
    security: [{ edgeService: [] }],
    middleware: requireEdgeToken(edgeServiceToken),
    request: jsonBody(z.strictObject({ hash: ApiKeyHash })),
    responses: { 200: jsonContent(ApiKeyResolution, 'The key as the edge must treat it'), ...errors(401) },
  });
  return newRouter().openapi(resolve, async (c) =>
    c.json(await resolveApiKeyHash(deps.db, c.req.valid('json').hash), 200),
  );
}
