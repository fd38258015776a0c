import { z } from 'zod';

/** Scopes that need no argument. `predict:<deployment>` narrows `predict` to one deployment. */
export const FIXED_SCOPES = [
  'predict',
  'models:read',
  'models:write',
  'deployments:read',
  'deployments:write',
  'billing:read',
  /** Read the org's per-deployment metrics (the Prometheus route a user's own Prometheus scrapes). */
  'metrics',
  'admin',
] as const;

/** One API-key scope: a fixed scope or `predict:<deployment id or name>`. */
export const ApiKeyScope = z.union([
  z.enum(FIXED_SCOPES),
  // The message of a scope that is neither: zod reports this branch's, so it names the fixed ones too.
  z
    .string()
    .regex(
      /^predict:[A-Za-z0-9_.-]{1,128}$/,
      `a scope is one of ${FIXED_SCOPES.join(', ')}, or predict:<deployment> with a deployment id or name`,
    ),
]);
export type ApiKeyScope = z.infer<typeof ApiKeyScope>;

/** A named per-key rate limit the edge enforces: at most `limit` requests per `periodSeconds`. */
export const ApiKeyRateLimit = z.strictObject({
  name: z.string().regex(/^[a-z0-9_-]{1,32}$/, 'lower-case letters, digits, _ or -'),
  limit: z.number().int().min(1).max(1_000_000_000),
  periodSeconds: z
    .number()
    .int()
    .min(1)
    .max(31 * 24 * 3600),
});
export type ApiKeyRateLimit = z.infer<typeof ApiKeyRateLimit>;

export const API_KEY_ENVIRONMENTS = ['live', 'test'] as const;

/** What the control plane tells the edge about a key hash (`POST /internal/v1/api-keys/resolve`). */
export const ApiKeyResolution = z.discriminatedUnion('status', [
  z.object({
    status: z.literal('active'),
    keyId: z.string(),
    orgId: z.string(),
    environment: z.enum(API_KEY_ENVIRONMENTS),
    scopes: z.array(z.string()),
    rateLimits: z.array(ApiKeyRateLimit),
    expiresAt: z.string().nullable(),
  }),
  z.object({ status: z.enum(['unknown', 'revoked', 'expired']) }),
]);
export type ApiKeyResolution = z.infer<typeof ApiKeyResolution>;

/** Lower-case hex SHA-256 of a key's full plaintext: the only form in which keys are stored or sent. */
export const ApiKeyHash = z.string().regex(/^[0-9a-f]{64}$/);
