import { createRoute, z } from '@hono/zod-openapi';
import { ApiKeyHash, ApiKeyResolution } from '@meridian/protocol';
import { requireEdgeToken } from '../http/guards.js';
import { errors, jsonBody, jsonContent, newRouter } from '../http/openapi.js';
import { resolveApiKeyHash } from '../services/api-keys/resolve.js';
import type { RouteDeps } from './deps.js';

export function internalRoutes({ edgeServiceToken, ...deps }: RouteDeps & { edgeServiceToken: string }) {
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
