import type { MiddlewareHandler } from 'hono';
import type { Database } from '../db/client.js';
import type { AppEnv } from '../http/context.js';
import type { AuthDeps } from '../services/auth/sessions.js';

/** What route modules receive from createApp. */
export interface RouteDeps {
  db: Database;
  auth: AuthDeps;
  requireAuth: MiddlewareHandler<AppEnv>;
}
