import { createRoute, z } from '@hono/zod-openapi';
import { API_KEY_ENVIRONMENTS, ApiKeyRateLimit, ApiKeyScope } from '@meridian/protocol';
import { actorOf } from '../http/guards.js';
import { bearerAuth, errors, jsonBody, jsonContent, newRouter } from '../http/openapi.js';
import { createApiKey, getApiKey, listApiKeys, revokeApiKey } from '../services/api-keys/api-keys.js';
import type { RouteDeps } from './deps.js';
import { Cursor, DisplayName, IdParam, Limit, RoleSchema } from './schemas.js';

const ApiKeySchema = z
  .object({
    id: z.string(),
    name: z.string(),
    environment: z.enum(API_KEY_ENVIRONMENTS),
    start: z.string().openapi({ description: 'First characters of the key, to tell keys apart' }),
    scopes: z.array(z.string()),
    rateLimits: z.array(ApiKeyRateLimit),
    status: z.enum(['active', 'revoked', 'expired']),
    expiresAt: z.string().nullable(),
    revokedAt: z.string().nullable(),
    lastUsedAt: z.string().nullable(),
    createdBy: z.object({ type: z.enum(['user', 'api_key']), id: z.string() }),
    roleCap: RoleSchema.openapi({
      description:
        'The role of whoever made the key: it never does more than that role may, whatever its scopes',
    }),
    createdAt: z.string(),
  })
  .openapi('ApiKey');

const CreateBody = z.strictObject({
  name: DisplayName,
  environment: z.enum(API_KEY_ENVIRONMENTS).default('live'),
  scopes: z.array(ApiKeyScope).min(1).max(50),
  expiresAt: z.iso.datetime({ offset: true }).optional(),
  rateLimits: z.array(ApiKeyRateLimit).max(10).default([]),
});
const KeyParams = z.object({ id: IdParam('key').openapi({ param: { name: 'id', in: 'path' } }) });

export function apiKeyRoutes(deps: RouteDeps) {
  const common = { security: bearerAuth, middleware: deps.requireAuth, tags: ['api keys'] };
  const create = createRoute({
    ...common,
    method: 'post',
    path: '/v1/api-keys',
    operationId: 'createApiKey',
    summary: 'Create an API key; the secret is in this response only',
    request: jsonBody(CreateBody),
    responses: {
      201: jsonContent(ApiKeySchema.extend({ secret: z.string() }), 'Created; store the secret now'),
      ...errors(401, 403),
    },
  });
  const list = createRoute({
    ...common,
    method: 'get',
    path: '/v1/api-keys',
    operationId: 'listApiKeys',
    summary: 'API keys of the active organisation (never their secrets)',
    request: { query: z.object({ limit: Limit, cursor: Cursor }) },
    responses: {
      200: jsonContent(z.object({ items: z.array(ApiKeySchema), nextCursor: z.string().nullable() }), 'Keys'),
      ...errors(401, 403),
    },
  });
  const get = createRoute({
    ...common,
    method: 'get',
    path: '/v1/api-keys/{id}',
    operationId: 'getApiKey',
    summary: 'One API key',
    request: { params: KeyParams },
    responses: { 200: jsonContent(ApiKeySchema, 'The key'), ...errors(401, 403, 404) },
  });
  const revoke = createRoute({
    ...common,
    method: 'delete',
    path: '/v1/api-keys/{id}',
    operationId: 'revokeApiKey',
    summary: 'Revoke an API key',
    request: { params: KeyParams },
    responses: { 200: jsonContent(ApiKeySchema, 'Revoked'), ...errors(401, 403, 404) },
  });

  return newRouter()
    .openapi(create, async (c) => c.json(await createApiKey(deps.db, actorOf(c), c.req.valid('json')), 201))
    .openapi(list, async (c) => c.json(await listApiKeys(deps.db, actorOf(c), c.req.valid('query')), 200))
    .openapi(get, async (c) => c.json(await getApiKey(deps.db, actorOf(c), c.req.valid('param').id), 200))
    .openapi(revoke, async (c) =>
      c.json(await revokeApiKey(deps.db, actorOf(c), c.req.valid('param').id), 200),
    );
}
