import { createRoute, z } from '@hono/zod-openapi';
import { actorOf } from '../http/guards.js';
import { bearerAuth, errors, jsonBody, jsonContent, newRouter } from '../http/openapi.js';
import {
  createDeployment,
  deleteDeployment,
  getDeployment,
  listDeploymentEvents,
  listDeployments,
} from '../services/deployments/deployments.js';
import type { DeploymentDeps } from '../services/deployments/deps.js';
import { updateDeployment } from '../services/deployments/update.js';
import {
  CreateDeploymentBody,
  DeploymentEventSchema,
  DeploymentIdParams,
  DeploymentSchema,
  UpdateDeploymentBody,
  unprocessableVersion,
} from './deployments-schemas.js';
import type { RouteDeps } from './deps.js';
import { ModelName } from './models-schemas.js';
import { Cursor, Limit, pageOf } from './schemas.js';

/** Deployments: the intent to serve a model version on replicas; the scheduler makes it so. */
export function deploymentRoutes({ deployments, ...deps }: RouteDeps & { deployments: DeploymentDeps }) {
  const common = { security: bearerAuth, middleware: deps.requireAuth, tags: ['deployments'] };
  const create = createRoute({
    ...common,
    method: 'post',
    path: '/v1/deployments',
    operationId: 'createDeployment',
    summary: 'Deploy a ready model version (by number or alias); its name is unique in the organisation',
    request: jsonBody(CreateDeploymentBody),
    responses: {
      201: jsonContent(DeploymentSchema, 'Created; the scheduler places its replicas'),
      ...errors(401, 403, 404, 409),
      ...unprocessableVersion,
    },
  });
  const list = createRoute({
    ...common,
    method: 'get',
    path: '/v1/deployments',
    operationId: 'listDeployments',
    summary: 'Deployments of the active organisation, newest first',
    request: { query: z.object({ limit: Limit, cursor: Cursor, name: ModelName.optional() }) },
    responses: { 200: jsonContent(pageOf(DeploymentSchema), 'Deployments'), ...errors(401, 403) },
  });
  const get = createRoute({
    ...common,
    method: 'get',
    path: '/v1/deployments/{id}',
    operationId: 'getDeployment',
    summary: 'One deployment: its revision, the version it serves, status and replicas by phase',
    request: { params: DeploymentIdParams },
    responses: { 200: jsonContent(DeploymentSchema, 'The deployment'), ...errors(401, 403, 404) },
  });
  const update = createRoute({
    ...common,
    method: 'patch',
    path: '/v1/deployments/{id}',
    operationId: 'updateDeployment',
    summary:
      'Roll out another version (a new revision), or change replicas, batching or determinism in place',
    request: { params: DeploymentIdParams, ...jsonBody(UpdateDeploymentBody) },
    responses: {
      200: jsonContent(DeploymentSchema, 'Updated'),
      ...errors(401, 403, 404, 409),
      ...unprocessableVersion,
    },
  });
  const remove = createRoute({
    ...common,
    method: 'delete',
    path: '/v1/deployments/{id}',
    operationId: 'deleteDeployment',
    summary: 'Delete a deployment; agents stop its replicas',
    request: { params: DeploymentIdParams },
    responses: { 204: { description: 'Deleted' }, ...errors(401, 403, 404) },
  });
  const events = createRoute({
    ...common,
    method: 'get',
    path: '/v1/deployments/{id}/events',
    operationId: 'listDeploymentEvents',
    summary: 'A deployment’s history: creation, rollouts, placements, status changes',
    description:
      'Oldest first by default; `order=newest` starts from the latest (what a page showing recent events ' +
      'wants). A page’s `nextCursor` continues in the order it was made in.',
    request: {
      params: DeploymentIdParams,
      query: z.object({
        limit: Limit,
        cursor: Cursor,
        order: z.enum(['oldest', 'newest']).default('oldest'),
      }),
    },
    responses: { 200: jsonContent(pageOf(DeploymentEventSchema), 'Events'), ...errors(401, 403, 404) },
  });

  return newRouter()
    .openapi(create, async (c) =>
      c.json(await createDeployment(deployments, actorOf(c), c.req.valid('json')), 201),
    )
    .openapi(list, async (c) =>
      c.json(await listDeployments(deployments.db, actorOf(c), c.req.valid('query')), 200),
    )
    .openapi(get, async (c) =>
      c.json(await getDeployment(deployments.db, actorOf(c), c.req.valid('param').id), 200),
    )
    .openapi(update, async (c) =>
      c.json(
        await updateDeployment(deployments, actorOf(c), c.req.valid('param').id, c.req.valid('json')),
        200,
      ),
    )
    .openapi(remove, async (c) => {
      await deleteDeployment(deployments, actorOf(c), c.req.valid('param').id);
      return c.body(null, 204);
    })
    .openapi(events, async (c) =>
      c.json(
        await listDeploymentEvents(deployments.db, actorOf(c), c.req.valid('param').id, c.req.valid('query')),
        200,
      ),
    );
}
