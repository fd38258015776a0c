import type { NotebookTarget } from '@meridian/protocol';
import { Hono } from 'hono';
import { authenticate } from '../auth/authenticate.js';
import type { EdgeVariables } from '../caller.js';
import { ControlPlaneClient } from '../control-plane.js';
import type { Env } from '../env.js';
import { EdgeError } from '../errors.js';

type AppEnv = { Bindings: Env; Variables: EdgeVariables };

/** Where each notebook runs, per isolate for a few seconds: a page load makes dozens of requests. */
const TARGET_CACHE_MS = 5_000;
const targets = new Map<string, { target: NotebookTarget | undefined; at: number }>();

async function targetOf(env: Env, notebookId: string): Promise<NotebookTarget | undefined> {
  const cached = targets.get(notebookId);
  if (cached && Date.now() - cached.at < TARGET_CACHE_MS) return cached.target;
  const target = await new ControlPlaneClient(env).notebook(notebookId);
  targets.set(notebookId, { target, at: Date.now() });
  if (targets.size > 10_000) targets.delete(targets.keys().next().value as string);
  return target;
}

/** Request headers the notebook must not see: the caller's Meridian credentials stay at the edge. */
const STRIPPED = ['authorization', 'cookie', 'host', 'origin'];

/**
 * `/notebooks/{id}/…` → the Jupyter server on the agent that runs it, HTTP and WebSocket alike, for the
 * notebook's owner only. The edge authenticates the user (JWT) and forwards with the notebook's own token,
 * which the caller never needs to know. Jupyter serves under the same `/notebooks/{id}/` base path, so paths
 * pass through unchanged.
 */
export function createNotebookRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.all('/notebooks/:id', (c) => c.redirect(`/notebooks/${encodeURIComponent(c.req.param('id'))}/`, 308));
  app.all('/notebooks/:id/*', authenticate({ allow: ['user'] }), async (c) => {
    const id = c.req.param('id');
    const caller = c.var.caller;
    const target = await targetOf(c.env, id);
    // Another org's notebook, and another member's, answer like one that does not exist.
    if (!target || target.orgId !== caller.orgId || target.ownerId !== caller.userId)
      throw new EdgeError('not_found', `notebook '${id}' not found`);
    if (!target.endpoint || target.status !== 'running')
      throw new EdgeError('unavailable', `notebook '${id}' is ${target.status}; start it first`, {
        'Retry-After': '5',
      });

    const incoming = new URL(c.req.url);
    const upstream = new URL(target.endpoint);
    upstream.pathname = incoming.pathname;
    const query = new URLSearchParams(incoming.search);
    query.delete('access_token');
    upstream.search = query.toString();

    const headers = new Headers(c.req.raw.headers);
    for (const name of STRIPPED) headers.delete(name);
    headers.set('authorization', `token ${target.token}`);
    // Jupyter refuses cross-origin WebSockets; to it, the edge is the origin.
    if (c.req.header('upgrade')?.toLowerCase() === 'websocket') headers.set('origin', upstream.origin);
    const init: RequestInit = { method: c.req.method, headers, redirect: 'manual' };
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') init.body = c.req.raw.body;
    try {
      // A WebSocket upgrade comes back as a 101 carrying the upstream socket, which workerd splices through.
      return await fetch(upstream.toString(), init);
    } catch (err) {
      throw new EdgeError(
        'unavailable',
        `notebook '${id}' did not answer: ${err instanceof Error ? err.message : String(err)}`,
        { 'Retry-After': '5' },
      );
    }
  });
  return app;
}
