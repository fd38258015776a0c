import { Hono } from 'hono';

/** Liveness: answers as long as the Worker can run a request. */
export function createHealthRoutes(): Hono {
  return new Hono().get('/health', (c) => c.json({ status: 'ok' }));
}
