import { Hono } from 'hono';
import type { EdgeVariables } from './caller.js';
import { cors } from './cors.js';
import type { Env } from './env.js';
import { EdgeError, echoed, respondWithError } from './errors.js';
import { drainUnreadBody, limitHeaderBytes } from './request-body.js';
import { type RequestIdVariables, requestId } from './request-id.js';
import { createHealthRoutes } from './routes/health.js';
import { createInternalStatsRoutes } from './routes/internal-stats.js';
import { createNotebookRoutes } from './routes/notebooks.js';
import { createPredictionRoutes } from './routes/predictions.js';

export type EdgeAppEnv = { Bindings: Env; Variables: RequestIdVariables & EdgeVariables };

/** Builds the edge HTTP app; the Worker entry wires it, tests build it directly. */
export function createEdgeApp(): Hono<EdgeAppEnv> {
  const app = new Hono<EdgeAppEnv>();
  app.use(requestId());
  // Before the routes: a preflight is answered here, and every answer (errors too) gets its CORS headers.
  app.use(cors());
  // Outside every route: refusals, unknown routes and errors all answer while the unread body drains.
  app.use(drainUnreadBody());
  app.use(limitHeaderBytes());
  app.route('/', createHealthRoutes());
  app.route('/', createInternalStatsRoutes());
  app.route('/', createPredictionRoutes());
  app.route('/', createNotebookRoutes());

  app.notFound((c) =>
    respondWithError(
      c,
      'not_found',
      `No route for ${c.req.method} ${echoed(c.req.path)}`,
      c.get('requestId'),
    ),
  );

  app.onError((err, c) => {
    const id = c.get('requestId');
    if (err instanceof EdgeError) {
      const res = respondWithError(c, err.code, err.message, id, err.status);
      for (const [name, value] of Object.entries(err.headers)) res.headers.set(name, value);
      return res;
    }
    // Unexpected errors are logged with the request id but never leak details to the caller.
    console.error(JSON.stringify({ level: 'error', requestId: id, message: err.message, stack: err.stack }));
    return respondWithError(c, 'internal', 'Internal error', id);
  });

  return app;
}
