import { createRoute, z } from '@hono/zod-openapi';
import { actorOf } from '../http/guards.js';
import { bearerAuth, errors, jsonBody, jsonContent, newRouter } from '../http/openapi.js';
import type { NotebookDeps } from '../services/notebooks/deps.js';
import {
  createNotebook,
  deleteNotebook,
  getNotebook,
  listNotebookSessions,
  listNotebooks,
  setNotebookDesired,
} from '../services/notebooks/notebooks.js';
import type { RouteDeps } from './deps.js';
import {
  CreateNotebookBody,
  NotebookIdParams,
  NotebookSchema,
  NotebookSessionSchema,
} from './notebooks-schemas.js';
import { Cursor, Limit, pageOf } from './schemas.js';

const PageQuery = z.object({ limit: Limit, cursor: Cursor });

/** GPU notebooks: each belongs to the user who made it, so only user tokens reach these routes. */
export function notebookRoutes({ notebooks, ...deps }: RouteDeps & { notebooks: NotebookDeps }) {
  const common = { security: bearerAuth, middleware: deps.requireAuth, tags: ['notebooks'] };
  const create = createRoute({
    ...common,
    method: 'post',
    path: '/v1/notebooks',
    operationId: 'createNotebook',
    summary: 'Create a notebook of your own and start it; its name is unique in the organisation',
    request: jsonBody(CreateNotebookBody),
    responses: { 201: jsonContent(NotebookSchema, 'Created, asked to run'), ...errors(401, 403, 409) },
  });
  const list = createRoute({
    ...common,
    method: 'get',
    path: '/v1/notebooks',
    operationId: 'listNotebooks',
    summary: 'Notebooks of the active organisation, newest first; tokens of your own only',
    request: { query: PageQuery },
    responses: { 200: jsonContent(pageOf(NotebookSchema), 'Notebooks'), ...errors(401, 403) },
  });
  const get = createRoute({
    ...common,
    method: 'get',
    path: '/v1/notebooks/{id}',
    operationId: 'getNotebook',
    summary: 'One notebook; its owner also sees the token, the access URL and the agent endpoint',
    request: { params: NotebookIdParams },
    responses: { 200: jsonContent(NotebookSchema, 'The notebook'), ...errors(401, 403, 404) },
  });
  const action = (verb: 'start' | 'stop', summary: string) =>
    createRoute({
      ...common,
      method: 'post',
      path: `/v1/notebooks/{id}/${verb}`,
      operationId: `${verb}Notebook`,
      summary,
      request: { params: NotebookIdParams },
      responses: {
        200: jsonContent(NotebookSchema, 'Asked; already asked is fine too'),
        ...errors(401, 403, 404),
      },
    });
  const start = action('start', 'Ask for your notebook to run (its files are kept from the last run)');
  const stop = action('stop', 'Ask for a notebook to stop; its owner, or an org owner or admin, may');
  const remove = createRoute({
    ...common,
    method: 'delete',
    path: '/v1/notebooks/{id}',
    operationId: 'deleteNotebook',
    summary: 'Delete a notebook; its owner, or an org owner or admin, may',
    request: { params: NotebookIdParams },
    responses: { 204: { description: 'Deleted' }, ...errors(401, 403, 404) },
  });
  const sessions = createRoute({
    ...common,
    method: 'get',
    path: '/v1/notebooks/{id}/sessions',
    operationId: 'listNotebookSessions',
    summary: 'A notebook’s runs, newest first, with the seconds billed for each',
    request: { params: NotebookIdParams, query: PageQuery },
    responses: { 200: jsonContent(pageOf(NotebookSessionSchema), 'Sessions'), ...errors(401, 403, 404) },
  });

  return newRouter()
    .openapi(create, async (c) =>
      c.json(await createNotebook(notebooks, actorOf(c), c.req.valid('json')), 201),
    )
    .openapi(list, async (c) => c.json(await listNotebooks(notebooks, actorOf(c), c.req.valid('query')), 200))
    .openapi(get, async (c) => c.json(await getNotebook(notebooks, actorOf(c), c.req.valid('param').id), 200))
    .openapi(start, async (c) =>
      c.json(await setNotebookDesired(notebooks, actorOf(c), c.req.valid('param').id, 'running'), 200),
    )
    .openapi(stop, async (c) =>
      c.json(await setNotebookDesired(notebooks, actorOf(c), c.req.valid('param').id, 'stopped'), 200),
    )
    .openapi(remove, async (c) => {
      await deleteNotebook(notebooks, actorOf(c), c.req.valid('param').id);
      return c.body(null, 204);
    })
    .openapi(sessions, async (c) =>
      c.json(
        await listNotebookSessions(notebooks, actorOf(c), c.req.valid('param').id, c.req.valid('query')),
        200,
      ),
    );
}
