import { Hono } from 'hono';
import type { Env } from '../env.js';
import { EdgeError } from '../errors.js';
import { limiterStats } from '../limits/admit.js';

/** Constant-time comparison of two strings (the service token is a secret). */
function sameSecret(a: string, b: string): boolean {
  const left = new TextEncoder().encode(a);
  const right = new TextEncoder().encode(b);
  if (left.byteLength !== right.byteLength) return false;
  let diff = 0;
  for (let i = 0; i < left.byteLength; i++) diff |= (left[i] ?? 0) ^ (right[i] ?? 0);
  return diff === 0;
}

/**
 * `GET /internal/edge-stats` (the edge service token): what this isolate has counted since it started,
 * admissions and limiter calls, so an operator or a benchmark can read predictions per limiter call.
 */
export function createInternalStatsRoutes(): Hono<{ Bindings: Env }> {
  return new Hono<{ Bindings: Env }>().get('/internal/edge-stats', (c) => {
    const token = c.req.header('authorization')?.replace(/^Bearer /, '') ?? '';
    if (!c.env.EDGE_SERVICE_TOKEN || !sameSecret(token, c.env.EDGE_SERVICE_TOKEN))
      throw new EdgeError('unauthenticated', 'The edge service token is required');
    const stats = limiterStats();
    return c.json({ predictions: stats.admissions, limiterCalls: stats.limiterCalls });
  });
}
