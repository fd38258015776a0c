import { createRoute, z } from '@hono/zod-openapi';
import { NotebookTarget } from '@meridian/protocol';
import type { Database } from '../db/client.js';
import { requireEdgeToken } from '../http/guards.js';
import { errors, jsonContent, newRouter } from '../http/openapi.js';
import { getNotebookTarget } from '../services/notebooks/target.js';

// Any string a user put in a /notebooks/{id}/ URL: an unknown one answers 404, not 400.
const NotebookParams = z.object({ notebookId: z.string().min(1).max(128) });

/** Where the edge proxies a notebook's HTTP and WebSocket traffic, and whose notebook it is. */
export function internalNotebookRoutes({ db, edgeServiceToken }: { db: Database; edgeServiceToken: string }) {
  const target = createRoute({
    method: 'get',
    path: '/internal/v1/notebooks/{notebookId}',
    operationId: 'getNotebookRoute',
    tags: ['internal'],
    summary: 'Edge only: a notebook’s org, owner, status, server endpoint and server token',
    description: 'Any org’s notebook: the edge checks the caller against `orgId` and `ownerId`.',
    security: [{ edgeService: [] }],
    middleware: requireEdgeToken(edgeServiceToken),
    request: { params: NotebookParams },
    responses: { 200: jsonContent(NotebookTarget, 'The proxy target'), ...errors(401, 404) },
  });
  return newRouter().openapi(target, async (c) =>
    c.json(await getNotebookTarget(db, c.req.valid('param').notebookId), 200),
  );
}
