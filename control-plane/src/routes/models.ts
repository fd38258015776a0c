import { createRoute, z } from '@hono/zod-openapi';
import { actorOf } from '../http/guards.js';
import { bearerAuth, errors, jsonBody, jsonContent, newRouter } from '../http/openapi.js';
import { deleteAlias, setAlias } from '../services/models/aliases.js';
import type { ModelDeps } from '../services/models/deps.js';
import { createModel, deleteModel, getModel, listModels, updateModel } from '../services/models/models.js';
import type { RouteDeps } from './deps.js';
import {
  AliasParams,
  AliasSchema,
  Description,
  ModelIdParams,
  ModelName,
  ModelSchema,
  Tags,
} from './models-schemas.js';
import { Cursor, Limit } from './schemas.js';

const CreateBody = z.strictObject({
  name: ModelName,
  description: Description.optional(),
  tags: Tags.optional(),
});
const UpdateBody = z
  .strictObject({ name: ModelName.optional(), description: Description.optional(), tags: Tags.optional() })
  .refine((b) => Object.keys(b).length > 0, 'name, description or tags');

/** The registry's models and their aliases; versions live in models-versions.ts. */
export function modelRoutes({ models, ...deps }: RouteDeps & { models: ModelDeps }) {
  const common = { security: bearerAuth, middleware: deps.requireAuth, tags: ['models'] };
  const create = createRoute({
    ...common,
    method: 'post',
    path: '/v1/models',
    operationId: 'createModel',
    summary: 'Register a model; its name is unique in the organisation',
    request: jsonBody(CreateBody),
    responses: { 201: jsonContent(ModelSchema, 'Created'), ...errors(401, 403, 409) },
  });
  const list = createRoute({
    ...common,
    method: 'get',
    path: '/v1/models',
    operationId: 'listModels',
    summary: 'Models of the active organisation, newest first',
    request: { query: z.object({ limit: Limit, cursor: Cursor, name: ModelName.optional() }) },
    responses: {
      200: jsonContent(
        z.object({ items: z.array(ModelSchema), nextCursor: z.string().nullable() }),
        'Models',
      ),
      ...errors(401, 403),
    },
  });
  const get = createRoute({
    ...common,
    method: 'get',
    path: '/v1/models/{id}',
    operationId: 'getModel',
    summary: 'One model with its aliases and latest ready version',
    request: { params: ModelIdParams },
    responses: { 200: jsonContent(ModelSchema, 'The model'), ...errors(401, 403, 404) },
  });
  const update = createRoute({
    ...common,
    method: 'patch',
    path: '/v1/models/{id}',
    operationId: 'updateModel',
    summary: 'Rename a model or change its description or tags (tags are replaced whole)',
    request: { params: ModelIdParams, ...jsonBody(UpdateBody) },
    responses: { 200: jsonContent(ModelSchema, 'Updated'), ...errors(401, 403, 404, 409) },
  });
  const remove = createRoute({
    ...common,
    method: 'delete',
    path: '/v1/models/{id}',
    operationId: 'deleteModel',
    summary: 'Delete a model, all its versions and their files; refused while a version is deployed',
    request: { params: ModelIdParams },
    responses: { 204: { description: 'Deleted' }, ...errors(401, 403, 404, 409) },
  });
  const putAlias = createRoute({
    ...common,
    method: 'put',
    path: '/v1/models/{id}/aliases/{alias}',
    operationId: 'setAlias',
    summary: 'Point an alias (production, staging, any name) at a ready version; moves an existing alias',
    request: { params: AliasParams, ...jsonBody(z.strictObject({ version: z.number().int().min(1) })) },
    responses: { 200: jsonContent(AliasSchema, 'The alias'), ...errors(401, 403, 404, 409) },
  });
  const removeAlias = createRoute({
    ...common,
    method: 'delete',
    path: '/v1/models/{id}/aliases/{alias}',
    operationId: 'deleteAlias',
    summary: 'Delete an alias; the version stays',
    request: { params: AliasParams },
    responses: { 204: { description: 'Deleted' }, ...errors(401, 403, 404) },
  });

  return newRouter()
    .openapi(create, async (c) => c.json(await createModel(models.db, actorOf(c), c.req.valid('json')), 201))
    .openapi(list, async (c) => c.json(await listModels(models.db, actorOf(c), c.req.valid('query')), 200))
    .openapi(get, async (c) => c.json(await getModel(models.db, actorOf(c), c.req.valid('param').id), 200))
    .openapi(update, async (c) =>
      c.json(await updateModel(models.db, actorOf(c), c.req.valid('param').id, c.req.valid('json')), 200),
    )
    .openapi(remove, async (c) => {
      await deleteModel(models, actorOf(c), c.req.valid('param').id);
      return c.body(null, 204);
    })
    .openapi(putAlias, async (c) => {
      const { id, alias } = c.req.valid('param');
      return c.json(await setAlias(models.db, actorOf(c), id, alias, c.req.valid('json').version), 200);
    })
    .openapi(removeAlias, async (c) => {
      const { id, alias } = c.req.valid('param');
      await deleteAlias(models.db, actorOf(c), id, alias);
      return c.body(null, 204);
    });
}
