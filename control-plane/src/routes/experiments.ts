import { createRoute, z } from '@hono/zod-openapi';
import { RUN_STATUSES } from '../db/schema.js';
import { actorOf } from '../http/guards.js';
import { bearerAuth, errors, jsonBody, jsonContent, newRouter } from '../http/openapi.js';
import type { Logger } from '../lib/logger.js';
import {
  createExperiment,
  deleteExperiment,
  getExperiment,
  listExperiments,
  updateExperiment,
} from '../services/experiments/experiments.js';
import { TEXT_LIMITS } from '../services/experiments/limits.js';
import { createRun, listRuns } from '../services/experiments/runs.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { RouteDeps } from './deps.js';
import {
  EntityName,
  ExperimentIdParams,
  ExperimentSchema,
  page,
  RunSchema,
  RunSummarySchema,
  TagMap,
} from './experiments-schemas.js';
import { Cursor, FreeText, Limit } from './schemas.js';

/** What experiment and run routes need beyond RouteDeps: where artifacts live and how big they may be. */
export interface ExperimentRouteDeps {
  objectStore: ObjectStore;
  logger: Logger;
  maxArtifactBytes: number;
}

const Description = FreeText(TEXT_LIMITS.description);
const CreateBody = z.strictObject({
  name: EntityName,
  description: Description.optional(),
  tags: TagMap.optional(),
});
const UpdateBody = z
  .strictObject({ name: EntityName.optional(), description: Description.optional(), tags: TagMap.optional() })
  .refine((b) => Object.keys(b).length > 0, 'give at least one of name, description, tags');
const CreateRunBody = z.strictObject({
  name: EntityName.optional(),
  startedAt: z.iso.datetime({ offset: true }).optional(),
  tags: TagMap.optional(),
});

export function experimentRoutes({
  experiments: extra,
  ...deps
}: RouteDeps & { experiments: ExperimentRouteDeps }) {
  const common = { security: bearerAuth, middleware: deps.requireAuth, tags: ['experiments'] };
  const storeDeps = { db: deps.db, store: extra.objectStore, logger: extra.logger };

  const create = createRoute({
    ...common,
    method: 'post',
    path: '/v1/experiments',
    operationId: 'createExperiment',
    summary: 'Create an experiment; names are unique within the organisation',
    request: jsonBody(CreateBody),
    responses: { 201: jsonContent(ExperimentSchema, 'Created'), ...errors(401, 403, 409) },
  });
  const list = createRoute({
    ...common,
    method: 'get',
    path: '/v1/experiments',
    operationId: 'listExperiments',
    summary: 'Experiments of the active organisation, newest first',
    request: { query: z.object({ limit: Limit, cursor: Cursor }) },
    responses: { 200: jsonContent(page(ExperimentSchema), 'A page'), ...errors(401, 403) },
  });
  const get = createRoute({
    ...common,
    method: 'get',
    path: '/v1/experiments/{id}',
    operationId: 'getExperiment',
    summary: 'One experiment',
    request: { params: ExperimentIdParams },
    responses: { 200: jsonContent(ExperimentSchema, 'The experiment'), ...errors(401, 403, 404) },
  });
  const update = createRoute({
    ...common,
    method: 'patch',
    path: '/v1/experiments/{id}',
    operationId: 'updateExperiment',
    summary: 'Rename or describe an experiment; tags, when given, replace the whole map',
    request: { params: ExperimentIdParams, ...jsonBody(UpdateBody) },
    responses: { 200: jsonContent(ExperimentSchema, 'Updated'), ...errors(401, 403, 404, 409) },
  });
  const remove = createRoute({
    ...common,
    method: 'delete',
    path: '/v1/experiments/{id}',
    operationId: 'deleteExperiment',
    summary: 'Delete an experiment with all its runs, metrics and artifacts',
    request: { params: ExperimentIdParams },
    responses: { 200: jsonContent(ExperimentSchema, 'Deleted'), ...errors(401, 403, 404) },
  });
  const createRunRoute = createRoute({
    ...common,
    method: 'post',
    path: '/v1/experiments/{id}/runs',
    operationId: 'createRun',
    summary: 'Start a run in an experiment',
    request: { params: ExperimentIdParams, ...jsonBody(CreateRunBody) },
    responses: { 201: jsonContent(RunSchema, 'Started'), ...errors(401, 403, 404) },
  });
  const listRunsRoute = createRoute({
    ...common,
    method: 'get',
    path: '/v1/experiments/{id}/runs',
    operationId: 'listRuns',
    summary: 'Runs of an experiment, newest first, each with its params, tags and latest metrics',
    request: {
      params: ExperimentIdParams,
      query: z.object({ limit: Limit, cursor: Cursor, status: z.enum(RUN_STATUSES).optional() }),
    },
    responses: { 200: jsonContent(page(RunSummarySchema), 'A page'), ...errors(401, 403, 404) },
  });

  return newRouter()
    .openapi(create, async (c) =>
      c.json(await createExperiment(deps.db, actorOf(c), c.req.valid('json')), 201),
    )
    .openapi(list, async (c) => c.json(await listExperiments(deps.db, actorOf(c), c.req.valid('query')), 200))
    .openapi(get, async (c) => c.json(await getExperiment(deps.db, actorOf(c), c.req.valid('param').id), 200))
    .openapi(update, async (c) =>
      c.json(await updateExperiment(deps.db, actorOf(c), c.req.valid('param').id, c.req.valid('json')), 200),
    )
    .openapi(remove, async (c) =>
      c.json(await deleteExperiment(storeDeps, actorOf(c), c.req.valid('param').id), 200),
    )
    .openapi(createRunRoute, async (c) =>
      c.json(await createRun(deps.db, actorOf(c), c.req.valid('param').id, c.req.valid('json')), 201),
    )
    .openapi(listRunsRoute, async (c) =>
      c.json(await listRuns(deps.db, actorOf(c), c.req.valid('param').id, c.req.valid('query')), 200),
    );
}
