import { createRoute, z } from '@hono/zod-openapi';
import { IDEMPOTENCY_KEY } from '@meridian/protocol';
import { bodyLimit } from 'hono/body-limit';
import { RUN_STATUSES } from '../db/schema.js';
import { AppError } from '../errors.js';
import { actorOf } from '../http/guards.js';
import { bearerAuth, errors, jsonBody, jsonContent, newRouter } from '../http/openapi.js';
import { BATCH_LIMITS } from '../services/experiments/limits.js';
import { logBatch, logMetrics, logParams, replaceTags } from '../services/experiments/logging.js';
import { metricHistory } from '../services/experiments/metric-history.js';
import { deleteRun, getRun, updateRun } from '../services/experiments/runs.js';
import type { RouteDeps } from './deps.js';
import type { ExperimentRouteDeps } from './experiments.js';
import {
  EntityName,
  EntryKey,
  MetricEntry,
  ParamEntry,
  RunDetailSchema,
  RunIdParams,
  RunSchema,
  TagEntry,
  TagMap,
} from './experiments-schemas.js';
import { decimalInt } from './schemas.js';

const { metrics: MAX_METRICS, params: MAX_PARAMS, tags: MAX_TAGS, entries: MAX_ENTRIES } = BATCH_LIMITS;
const limitMessage = (n: number, what: string) =>
  `at most ${n} ${what} per request (MLflow's log-batch limit)`;
const Metrics = z.array(MetricEntry).max(MAX_METRICS, limitMessage(MAX_METRICS, 'metrics'));
const Params = z.array(ParamEntry).max(MAX_PARAMS, limitMessage(MAX_PARAMS, 'params'));
const Tags = z.array(TagEntry).max(MAX_TAGS, limitMessage(MAX_TAGS, 'tags'));

const UpdateBody = z
  .strictObject({
    name: EntityName.optional(),
    status: z.enum(RUN_STATUSES).optional(),
    endedAt: z.iso.datetime({ offset: true }).optional(),
  })
  .refine((b) => Object.keys(b).length > 0, 'give at least one of name, status, endedAt');
const ParamsBody = z.strictObject({ params: Params.min(1) });
const MetricsBody = z.strictObject({ metrics: Metrics.min(1) });
const TagsBody = z.strictObject({ tags: TagMap });
const BatchBody = z
  .strictObject({ metrics: Metrics.optional(), params: Params.optional(), tags: Tags.optional() })
  .refine(
    (b) => (b.metrics?.length ?? 0) + (b.params?.length ?? 0) + (b.tags?.length ?? 0) <= MAX_ENTRIES,
    limitMessage(MAX_ENTRIES, 'metrics, params and tags together'),
  );
const BatchHeaders = z.object({
  'idempotency-key': z
    .string()
    .regex(IDEMPOTENCY_KEY, '1 to 255 letters, digits and _ . : - (a UUID fits)')
    .optional()
    .openapi({
      description:
        'The same key on a body sent again (its answer was lost) answers what the first stored and stores nothing twice; another body under it is 409',
    }),
});
const HistoryParams = z.object({
  id: RunIdParams.shape.id,
  key: EntryKey.openapi({ param: { name: 'key', in: 'path' }, description: 'URL-encoded; `/` as %2F' }),
});
const HistoryQuery = z.object({
  limit: decimalInt(1, 1000).default(100),
  cursor: z.string().max(128).optional(),
});

const Logged = (fields: readonly ('metrics' | 'params' | 'tags')[]) =>
  z.object(Object.fromEntries(fields.map((f) => [f, z.number().int()])));

/** MLflow caps a log-batch body at 1 MB whatever the app-wide limit is. */
const batchBodyLimit = bodyLimit({
  maxSize: BATCH_LIMITS.bodyBytes,
  onError: () => {
    throw new AppError(
      'payload_too_large',
      `A log-batch body may be at most ${BATCH_LIMITS.bodyBytes} bytes`,
    );
  },
});

export function runRoutes({ experiments: extra, ...deps }: RouteDeps & { experiments: ExperimentRouteDeps }) {
  const common = { security: bearerAuth, middleware: deps.requireAuth, tags: ['experiments'] };
  const storeDeps = { db: deps.db, store: extra.objectStore, logger: extra.logger };
  const runPath = '/v1/runs/{id}';

  const get = createRoute({
    ...common,
    method: 'get',
    path: runPath,
    operationId: 'getRun',
    summary: 'A run with its params, tags, latest metrics and the model versions it produced',
    request: { params: RunIdParams },
    responses: { 200: jsonContent(RunDetailSchema, 'The run'), ...errors(401, 403, 404) },
  });
  const update = createRoute({
    ...common,
    method: 'patch',
    path: runPath,
    operationId: 'updateRun',
    summary: 'Rename a run or end it (running → finished, failed or killed); an ended run stays ended',
    request: { params: RunIdParams, ...jsonBody(UpdateBody) },
    responses: { 200: jsonContent(RunSchema, 'Updated'), ...errors(401, 403, 404, 409) },
  });
  const remove = createRoute({
    ...common,
    method: 'delete',
    path: runPath,
    operationId: 'deleteRun',
    summary: 'Delete a run with its params, metrics, tags and artifacts',
    request: { params: RunIdParams },
    responses: { 200: jsonContent(RunSchema, 'Deleted'), ...errors(401, 403, 404) },
  });
  const params = createRoute({
    ...common,
    method: 'post',
    path: `${runPath}/params`,
    operationId: 'logParams',
    summary: 'Log params; a param is immutable (the same value again is fine, another value is 409)',
    request: { params: RunIdParams, ...jsonBody(ParamsBody) },
    responses: { 200: jsonContent(Logged(['params']), 'Logged'), ...errors(401, 403, 404, 409) },
  });
  const metrics = createRoute({
    ...common,
    method: 'post',
    path: `${runPath}/metrics`,
    operationId: 'logMetric',
    summary: 'Append metric points (key, finite value, step ≥ 0, optional timestamp)',
    request: { params: RunIdParams, ...jsonBody(MetricsBody) },
    responses: { 200: jsonContent(Logged(['metrics']), 'Logged'), ...errors(401, 403, 404) },
  });
  const tags = createRoute({
    ...common,
    method: 'put',
    path: `${runPath}/tags`,
    operationId: 'setRunTags',
    summary: "Replace the run's tags with this map",
    request: { params: RunIdParams, ...jsonBody(TagsBody) },
    responses: { 200: jsonContent(Logged(['tags']), 'Replaced'), ...errors(401, 403, 404) },
  });
  const batch = createRoute({
    ...common,
    middleware: [deps.requireAuth, batchBodyLimit],
    method: 'post',
    path: `${runPath}/log-batch`,
    operationId: 'logBatch',
    summary: `Log metrics, params and tags at once, all or nothing: up to ${MAX_METRICS} metrics, ${MAX_PARAMS} params, ${MAX_TAGS} tags, ${BATCH_LIMITS.bodyBytes} bytes`,
    request: { params: RunIdParams, headers: BatchHeaders, ...jsonBody(BatchBody) },
    responses: {
      200: jsonContent(
        Logged(['metrics', 'params', 'tags']),
        'Logged (or, for a body sent again, logged before)',
      ),
      ...errors(401, 403, 404, 409),
    },
  });
  const history = createRoute({
    ...common,
    method: 'get',
    path: `${runPath}/metrics/{key}/history`,
    operationId: 'getMetricHistory',
    summary: "Every point of one metric, by step then timestamp; an unknown key's history is empty",
    request: { params: HistoryParams, query: HistoryQuery },
    responses: {
      200: jsonContent(
        z.object({
          key: z.string(),
          items: z.array(z.object({ value: z.number(), step: z.number().int(), timestamp: z.string() })),
          nextCursor: z.string().nullable(),
        }),
        'A page of the history',
      ),
      ...errors(401, 403, 404),
    },
  });

  return newRouter()
    .openapi(get, async (c) => c.json(await getRun(deps.db, actorOf(c), c.req.valid('param').id), 200))
    .openapi(update, async (c) =>
      c.json(await updateRun(deps.db, actorOf(c), c.req.valid('param').id, c.req.valid('json')), 200),
    )
    .openapi(remove, async (c) =>
      c.json(await deleteRun(storeDeps, actorOf(c), c.req.valid('param').id), 200),
    )
    .openapi(params, async (c) =>
      c.json(await logParams(deps.db, actorOf(c), c.req.valid('param').id, c.req.valid('json').params), 200),
    )
    .openapi(metrics, async (c) =>
      c.json(
        await logMetrics(deps.db, actorOf(c), c.req.valid('param').id, c.req.valid('json').metrics),
        200,
      ),
    )
    .openapi(tags, async (c) =>
      c.json(await replaceTags(deps.db, actorOf(c), c.req.valid('param').id, c.req.valid('json').tags), 200),
    )
    .openapi(batch, async (c) => {
      const key = c.req.valid('header')['idempotency-key'];
      return c.json(
        await logBatch(deps.db, actorOf(c), c.req.valid('param').id, c.req.valid('json'), key),
        200,
      );
    })
    .openapi(history, async (c) => {
      const { id, key } = c.req.valid('param');
      return c.json(await metricHistory(deps.db, actorOf(c), id, key, c.req.valid('query')), 200);
    });
}
