import { OpenAPIHono, z } from '@hono/zod-openapi';
import { ErrorCode } from '@meridian/protocol';
import type { AppEnv } from './context.js';
import { validationError } from './errors.js';
import { strictJsonBody } from './strict-json.js';
import { validationMessage } from './validation-messages.js';

type Route = Parameters<OpenAPIHono<AppEnv>['openapi']>[0];

/** The route with `strictJsonBody` after its own middleware (auth first), if its body is JSON. */
function withStrictJsonBody<R extends Route>(route: R): R {
  if (!route.request?.body?.content?.['application/json']) return route;
  const own = route.middleware === undefined ? [] : [route.middleware].flat();
  return { ...route, middleware: [...own, strictJsonBody] };
}

/**
 * A router whose validation failures all become the 400 envelope with per-field details, and whose JSON
 * bodies must be UTF-8 without lone surrogates.
 */
export function newRouter() {
  // hono's validator parses without per-call options, so the words for fields whose schema gives none are
  // set where zod looks last before its own (a schema's or a check's own message still wins).
  z.config({ customError: validationMessage });
  const router = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error);
    },
  });
  const register = router.openapi;
  router.openapi = ((route, handler, hook) =>
    register(withStrictJsonBody(route), handler, hook)) as typeof register;
  return router;
}

export const ErrorEnvelopeSchema = z
  .object({
    error: z.object({
      code: ErrorCode,
      message: z.string(),
      requestId: z.string(),
      details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    }),
  })
  .openapi('Error');

const ERROR_DESCRIPTIONS = {
  400: 'Malformed JSON or a body, path or query that fails validation',
  401: 'Missing, invalid, expired or revoked credential',
  403: 'The credential is valid but its role or scopes do not allow this',
  404: 'No such resource in the caller’s organisation',
  409: 'Conflicts with the current state',
  413: 'Body larger than the limit',
  429: 'Throttled; see Retry-After',
} as const;
type ErrorStatus = keyof typeof ERROR_DESCRIPTIONS;

/** The error responses a route documents; every route can answer 400 and 413. */
export function errors(...statuses: ErrorStatus[]) {
  const all = new Set<ErrorStatus>([400, 413, ...statuses]);
  return Object.fromEntries(
    [...all].map((s) => [
      s,
      {
        description: ERROR_DESCRIPTIONS[s],
        content: { 'application/json': { schema: ErrorEnvelopeSchema } },
      },
    ]),
  ) as Record<
    ErrorStatus,
    { description: string; content: { 'application/json': { schema: typeof ErrorEnvelopeSchema } } }
  >;
}

export function jsonBody<T extends z.ZodType>(schema: T) {
  return { body: { required: true, content: { 'application/json': { schema } } } };
}

export function jsonContent<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { 'application/json': { schema } } };
}

export const bearerAuth = [{ bearer: [] }];

type OpenApiDocument = ReturnType<ReturnType<typeof newRouter>['getOpenAPI31Document']>;

/**
 * Adds the 415 every operation with a JSON request body answers (hono's validator refuses any other
 * Content-Type before the handler runs), so the document lists every status the API can give.
 */
export function documentUnsupportedMediaType(doc: OpenApiDocument): OpenApiDocument {
  for (const operations of Object.values(doc.paths ?? {})) {
    for (const [method, operation] of Object.entries(operations ?? {})) {
      if (!['get', 'put', 'post', 'delete', 'patch'].includes(method) || typeof operation !== 'object')
        continue;
      const op = operation as {
        requestBody?: { content?: Record<string, unknown> };
        responses?: Record<string, unknown>;
      };
      if (!op.requestBody?.content?.['application/json'] || !op.responses || op.responses['415']) continue;
      op.responses['415'] = {
        description: 'The body is not sent as application/json',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      };
    }
  }
  return doc;
}
