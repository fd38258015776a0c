import { bodyLimit } from 'hono/body-limit';
import { AccessTokens } from './auth/access-tokens.js';
import type { SigningKeyStore } from './auth/signing-keys.js';
import type { Database } from './db/client.js';
import { AppError } from './errors.js';
import { accessLog } from './http/access-log.js';
import { requireAuth } from './http/authenticate.js';
import { onError, onNotFound } from './http/errors.js';
import { createMetrics } from './http/metrics.js';
import { newRouter } from './http/openapi.js';
import { requestContext } from './http/request-context.js';
import type { Logger } from './lib/logger.js';
import type { ScryptParams } from './lib/password.js';
import { apiKeyRoutes } from './routes/api-keys.js';
import { auditLogRoutes } from './routes/audit-log.js';
import { authRoutes } from './routes/auth.js';
import type { RouteDeps } from './routes/deps.js';
import { docsRoutes } from './routes/docs.js';
import { internalRoutes } from './routes/internal.js';
import { orgRoutes } from './routes/orgs.js';
import { systemRoutes } from './routes/system.js';

export interface AppDeps {
  db: Database;
  logger: Logger;
  signingKeys: SigningKeyStore;
  issuer: string;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  edgeServiceToken: string;
  maxBodyBytes: number;
  trustProxy: boolean;
  /** Cheaper scrypt for tests only; production uses the default cost. */
  scrypt?: ScryptParams;
  collectDefaultMetrics?: boolean;
}

/** Builds the whole control-plane HTTP app from its dependencies; main.ts and tests both call this. */
export function createApp(deps: AppDeps) {
  const accessTokens = new AccessTokens(deps.signingKeys, deps.issuer, deps.accessTokenTtlSeconds);
  const metrics = createMetrics(deps.collectDefaultMetrics ?? false);
  const routeDeps: RouteDeps = {
    db: deps.db,
    auth: {
      db: deps.db,
      accessTokens,
      refreshTokenTtlSeconds: deps.refreshTokenTtlSeconds,
      ...(deps.scrypt ? { scrypt: deps.scrypt } : {}),
    },
    requireAuth: requireAuth(deps.db, accessTokens),
  };

  const app = newRouter();
  app.use(requestContext(deps.trustProxy));
  app.use(metrics.middleware);
  app.use(accessLog(deps.logger));
  app.use(
    bodyLimit({
      maxSize: deps.maxBodyBytes,
      onError: () => {
        throw new AppError('payload_too_large', `The request body is larger than ${deps.maxBodyBytes} bytes`);
      },
    }),
  );

  app.route('/', systemRoutes(deps.db, metrics.registry, deps.signingKeys));
  app.route('/', docsRoutes());
  app.route('/', authRoutes(routeDeps));
  app.route('/', orgRoutes(routeDeps));
  app.route('/', apiKeyRoutes(routeDeps));
  app.route('/', auditLogRoutes(routeDeps));
  app.route('/', internalRoutes(routeDeps, deps.edgeServiceToken));

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'A user access token (JWT) or an API key (mk_live_… / mk_test_…)',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'edgeService', { type: 'http', scheme: 'bearer' });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Meridian control plane',
      version: '0.1.0',
      description: 'Management API: identity, organisations, API keys and the audit log.',
    },
    servers: [{ url: deps.issuer }],
  });

  app.notFound(onNotFound);
  app.onError(onError(deps.logger));
  return app;
}
