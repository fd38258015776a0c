import type { MiddlewareHandler } from 'hono';
import type { IdentityCache } from '../auth/identity-cache.js';
import type { Database } from '../db/client.js';
import type { AppEnv } from '../http/context.js';
import type { AuthDeps } from '../services/auth/sessions.js';

/**
 * What route modules for signed-in callers share. Every route module takes one object: `xRoutes(deps)`, typed
 * by the module with exactly what it uses (`RouteDeps & { models: ModelDeps }`, `{ db, edgeServiceToken }`),
 * so createApp reads as a list of what each part of the API is given.
 */
export interface RouteDeps {
  db: Database;
  auth: AuthDeps;
  requireAuth: MiddlewareHandler<AppEnv>;
  /** Invalidated by membership changes so this instance never serves a stale role. */
  identityCache: IdentityCache;
}
