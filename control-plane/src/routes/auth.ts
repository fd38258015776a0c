import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { unauthenticated } from '../errors.js';
import type { AppEnv } from '../http/context.js';
import { actorOf } from '../http/guards.js';
import { bearerAuth, errors, jsonBody, jsonContent, newRouter } from '../http/openapi.js';
import {
  answerTokens,
  COOKIE_MODE_NOTE,
  clearRefreshCookie,
  refreshTokenFromCookie,
} from '../http/refresh-cookie.js';
import { login } from '../services/auth/login.js';
import { changePassword } from '../services/auth/password-change.js';
import { logout, refreshSession } from '../services/auth/refresh.js';
import { register } from '../services/auth/register.js';
import { describeCaller } from '../services/orgs/me.js';
import { switchOrg } from '../services/orgs/orgs.js';
import type { RouteDeps } from './deps.js';
import {
  DisplayName,
  Email,
  IdParam,
  OrgSummarySchema,
  Password,
  RoleSchema,
  TokenPairSchema,
} from './schemas.js';

// Optional only for cookie mode (see refresh-cookie.ts): the SDK and CLI send it in the body.
const RefreshBody = z.strictObject({ refreshToken: z.string().min(1).max(512).optional() });

/** The refresh token of a refresh or logout: the body's, else a cookie-mode request's cookie. */
function refreshTokenOf(c: Context<AppEnv>, body: { refreshToken?: string | undefined }): string {
  const token = body.refreshToken ?? refreshTokenFromCookie(c);
  if (!token) throw unauthenticated('No refresh token in the body or the session cookie');
  return token;
}

const registerRoute = createRoute({
  method: 'post',
  path: '/v1/auth/register',
  operationId: 'register',
  security: [],
  tags: ['auth'],
  summary: 'Create an account and its personal organisation',
  description: COOKIE_MODE_NOTE,
  request: jsonBody(z.strictObject({ email: Email, password: Password, name: DisplayName })),
  responses: {
    201: jsonContent(
      TokenPairSchema.extend({
        user: z.object({ id: z.string(), email: z.string(), name: z.string() }),
        org: z.object({ id: z.string(), name: z.string() }),
      }),
      'Registered; the tokens name the personal organisation',
    ),
    ...errors(409, 429),
  },
});

const loginRoute = createRoute({
  method: 'post',
  path: '/v1/auth/login',
  operationId: 'login',
  security: [],
  tags: ['auth'],
  summary: 'Exchange email and password for tokens',
  request: jsonBody(
    z.strictObject({ email: Email, password: z.string().min(1).max(256), orgId: IdParam('org').optional() }),
  ),
  responses: { 200: jsonContent(TokenPairSchema, 'Logged in'), ...errors(401, 404, 429) },
  description:
    'Every attempt is counted before the password is checked. An address that fails 5 times on one account ' +
    'is locked out of that account for the window; past a free count, each attempt on an account (or from ' +
    `an address) waits an exponentially growing delay. Both answer 429 with Retry-After. ${COOKIE_MODE_NOTE}`,
});

const refreshRoute = createRoute({
  method: 'post',
  path: '/v1/auth/refresh',
  operationId: 'refreshTokens',
  security: [],
  tags: ['auth'],
  summary: 'Rotate a refresh token; reusing a spent one revokes the whole login',
  description: `Without refreshToken in the body, a cookie-mode request uses its cookie. ${COOKIE_MODE_NOTE}`,
  request: jsonBody(RefreshBody),
  responses: { 200: jsonContent(TokenPairSchema, 'New token pair'), ...errors(401) },
});

const logoutRoute = createRoute({
  method: 'post',
  path: '/v1/auth/logout',
  operationId: 'logout',
  security: [],
  tags: ['auth'],
  summary: 'End the session a refresh token belongs to: its access tokens are refused from now on',
  description: 'Without refreshToken in the body, a cookie-mode request uses its cookie and clears it.',
  request: jsonBody(RefreshBody),
  responses: { 204: { description: 'Logged out' }, ...errors(401) },
});

export function authRoutes(deps: RouteDeps) {
  const meRoute = createRoute({
    method: 'get',
    path: '/v1/auth/me',
    operationId: 'getMe',
    tags: ['auth'],
    summary: 'The caller, its active organisation and role',
    security: bearerAuth,
    middleware: deps.requireAuth,
    responses: {
      200: jsonContent(
        z.object({
          type: z.enum(['user', 'api_key']),
          user: z.object({ id: z.string(), email: z.string(), name: z.string() }).optional(),
          apiKey: z.object({ id: z.string(), name: z.string(), scopes: z.array(z.string()) }).optional(),
          org: z.object({ id: z.string(), name: z.string() }),
          role: RoleSchema.optional(),
          orgs: z.array(OrgSummarySchema).optional(),
        }),
        'The caller',
      ),
      ...errors(401),
    },
  });

  const passwordRoute = createRoute({
    method: 'post',
    path: '/v1/auth/password',
    operationId: 'changePassword',
    tags: ['auth'],
    summary: 'Change the password; every session of the user ends and a new token pair is returned',
    description: COOKIE_MODE_NOTE,
    security: bearerAuth,
    middleware: deps.requireAuth,
    request: jsonBody(z.strictObject({ currentPassword: z.string().min(1).max(256), newPassword: Password })),
    responses: { 200: jsonContent(TokenPairSchema, 'Changed; use these tokens'), ...errors(401, 403, 429) },
  });

  const switchRoute = createRoute({
    method: 'post',
    path: '/v1/auth/switch-org',
    operationId: 'switchOrg',
    tags: ['auth'],
    summary: 'Get tokens naming another organisation the user belongs to',
    description: COOKIE_MODE_NOTE,
    security: bearerAuth,
    middleware: deps.requireAuth,
    request: jsonBody(z.strictObject({ orgId: IdParam('org') })),
    responses: { 200: jsonContent(TokenPairSchema, 'Tokens for the chosen org'), ...errors(401, 403, 404) },
  });

  // Cookie-mode answers keep the refresh token out of the body (refresh-cookie.ts).
  const ttl = deps.auth.refreshTokenTtlSeconds;
  return newRouter()
    .openapi(registerRoute, async (c) => {
      const ctx = { requestId: c.var.requestId, clientIp: c.var.clientIp };
      return c.json(answerTokens(c, await register(deps.auth, c.req.valid('json'), ctx), ttl), 201);
    })
    .openapi(loginRoute, async (c) =>
      c.json(answerTokens(c, await login(deps.auth, c.req.valid('json'), c.var.clientIp), ttl), 200),
    )
    .openapi(refreshRoute, async (c) => {
      const token = refreshTokenOf(c, c.req.valid('json'));
      return c.json(answerTokens(c, await refreshSession(deps.auth, token), ttl), 200);
    })
    .openapi(logoutRoute, async (c) => {
      await logout(deps.auth, { refreshToken: refreshTokenOf(c, c.req.valid('json')) });
      clearRefreshCookie(c);
      return c.body(null, 204);
    })
    .openapi(meRoute, async (c) =>
      c.json(await describeCaller(deps.db, deps.identityCache, c.var.principal), 200),
    )
    .openapi(passwordRoute, async (c) =>
      c.json(answerTokens(c, await changePassword(deps.auth, actorOf(c), c.req.valid('json')), ttl), 200),
    )
    .openapi(switchRoute, async (c) =>
      c.json(answerTokens(c, await switchOrg(deps.auth, actorOf(c), c.req.valid('json').orgId), ttl), 200),
    );
}
