import type { MiddlewareHandler } from 'hono';
import type { IdentityCache } from '../auth/identity-cache.js';
import type { Database } from '../db/client.js';
import type { AppEnv } from '../http/context.js';
import type { AuthDeps } from '../services/auth/sessions.js';

/** What route modules receive from createApp. */
export interface RouteDeps {
  db: Database;
  auth: AuthDeps;
  requireAuth: MiddlewareHandler<AppEnv>;
  /** Invalidated by membership changes so this instance never serves a stale role. */
  identityCache: IdentityCache;
}
