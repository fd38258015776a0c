import { Hono } from 'hono';
import { EdgeError, respondWithError } from './errors.js';
import { type RequestIdVariables, requestId } from './request-id.js';
import { createHealthRoutes } from './routes/health.js';

export type EdgeAppEnv = { Variables: RequestIdVariables };

/** Builds the edge HTTP app; the Worker entry wires it, tests build it directly. */
export function createEdgeApp(): Hono<EdgeAppEnv> {
  const app = new Hono<EdgeAppEnv>();
  app.use(requestId());
  app.route('/', createHealthRoutes());

  app.notFound((c) =>
    respondWithError(c, 'not_found', `No route for ${c.req.method} ${c.req.path}`, c.get('requestId')),
  );

  app.onError((err, c) => {
    const id = c.get('requestId');
    if (err instanceof EdgeError) return respondWithError(c, err.code, err.message, id);
    // Unexpected errors are logged with the request id but never leak details to the caller.
    console.error(JSON.stringify({ level: 'error', requestId: id, message: err.message, stack: err.stack }));
    return respondWithError(c, 'internal', 'Internal error', id);
  });

  return app;
}
