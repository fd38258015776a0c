import { createRoute, z } from '@hono/zod-openapi';
import { BATCH_STATUSES } from '../db/schema.js';
import { actorOf } from '../http/guards.js';
import { bearerAuth, errors, jsonBody, jsonContent, newRouter } from '../http/openapi.js';
import type { BatchDeps } from '../services/batch/deps.js';
import { MAX_CONCURRENCY } from '../services/batch/deps.js';
import { cancelJob, createJob, getJob, jobDownloadUrls, listJobs } from '../services/batch/jobs.js';
import type { RouteDeps } from './deps.js';
import { Cursor, decimalInt, hasNoNul, IdParam, Limit, NO_NUL, pageOf } from './schemas.js';

const Timestamp = z.string().nullable();
export const BatchJobSchema = z
  .object({
    id: z.string(),
    object: z.literal('batch_job'),
    deployment: z.object({ id: z.string(), name: z.string() }),
    inputFileId: z.string(),
    outputFileId: z.string().nullable().openapi({ description: 'One line per answered input, once ended' }),
    errorFileId: z.string().nullable().openapi({ description: 'One line per refused or failed input' }),
    status: z.enum(BATCH_STATUSES),
    error: z
      .object({
        code: z.string(),
        message: z.string(),
        faults: z.array(z.object({ line: z.number().int(), message: z.string() })).optional(),
      })
      .nullable()
      .openapi({ description: 'Why it failed or stopped; validation faults by line number' }),
    pausedReason: z
      .string()
      .nullable()
      .openapi({ description: 'org_suspended or waiting_for_replica while the job waits' }),
    statusReason: z
      .string()
      .nullable()
      .openapi({
        description:
          "Why it waits, in words: its deployment's start problem among them (a deployment no host can place " +
          'fails the job after 15 minutes; one that failed to start fails it at once); null while it runs or once ended',
      }),
    completionWindow: z.string(),
    maxConcurrency: z.number().int(),
    counts: z.object({ total: z.number().int(), completed: z.number().int(), failed: z.number().int() }),
    costUsd: z.string().openapi({ description: 'What the lines answered so far cost' }),
    createdAt: z.string(),
    startedAt: Timestamp,
    finalizingAt: Timestamp,
    endedAt: Timestamp,
    cancelRequestedAt: Timestamp,
    expiresAt: z.string(),
  })
  .openapi('BatchJob');
const CreateBody = z.strictObject({
  deployment: z
    .string()
    .min(1)
    .max(128)
    .refine(hasNoNul, NO_NUL)
    .openapi({ description: 'Deployment id or name' }),
  inputFileId: IdParam('file'),
  completionWindow: z
    .string()
    .max(8)
    .optional()
    .openapi({ example: '24h', description: '1m to 7d; 24h by default' }),
  maxConcurrency: z.number().int().min(1).max(MAX_CONCURRENCY).optional().openapi({
    description: 'Lines in flight at once (default small, so real-time calls keep their latency)',
  }),
});
const JobParams = z.object({ id: IdParam('batch') });
const DownloadUrls = z
  .object({ output: z.string().nullable(), errors: z.string().nullable(), expiresAt: z.string() })
  .openapi('BatchJobDownloadUrls');

/** Batch jobs: a stored JSONL file run against one deployment, an output and an error file back. */
export function batchJobRoutes({
  batch,
  runner,
  ...deps
}: RouteDeps & { batch: BatchDeps; runner: { kick(cancelled?: string): void } }) {
  const common = { security: bearerAuth, middleware: deps.requireAuth, tags: ['batch'] };
  const create = createRoute({
    ...common,
    method: 'post',
    path: '/v1/batch-jobs',
    operationId: 'createBatchJob',
    summary: 'Run every line of a stored JSONL file against a deployment, in the background',
    request: jsonBody(CreateBody),
    responses: { 201: jsonContent(BatchJobSchema, 'Created; validating'), ...errors(401, 403, 404) },
  });
  const list = createRoute({
    ...common,
    method: 'get',
    path: '/v1/batch-jobs',
    operationId: 'listBatchJobs',
    summary: 'Batch jobs of the organisation, newest first',
    request: { query: z.object({ limit: Limit, cursor: Cursor, status: z.enum(BATCH_STATUSES).optional() }) },
    responses: { 200: jsonContent(pageOf(BatchJobSchema), 'Jobs'), ...errors(401, 403) },
  });
  const get = createRoute({
    ...common,
    method: 'get',
    path: '/v1/batch-jobs/{id}',
    operationId: 'getBatchJob',
    summary: 'One job: status, counts, timings and cost so far',
    request: { params: JobParams },
    responses: { 200: jsonContent(BatchJobSchema, 'The job'), ...errors(401, 403, 404) },
  });
  const cancel = createRoute({
    ...common,
    method: 'post',
    path: '/v1/batch-jobs/{id}/cancel',
    operationId: 'cancelBatchJob',
    summary: 'Stop a job: no new line starts; what was answered is written to its files',
    request: { params: JobParams },
    responses: { 200: jsonContent(BatchJobSchema, 'Cancelling'), ...errors(401, 403, 404, 409) },
  });
  const urls = createRoute({
    ...common,
    method: 'get',
    path: '/v1/batch-jobs/{id}/download-urls',
    operationId: 'getBatchJobDownloadUrls',
    summary: 'Expiring URLs of the job’s output and error files (null until it ends)',
    request: {
      params: JobParams,
      query: z.object({ expiresIn: decimalInt(1, 24 * 3600).default(3600) }),
    },
    responses: { 200: jsonContent(DownloadUrls, 'Signed URLs'), ...errors(401, 403, 404) },
  });
  return newRouter()
    .openapi(create, async (c) =>
      c.json(await createJob(batch, actorOf(c), c.req.valid('json'), () => runner.kick()), 201),
    )
    .openapi(list, async (c) => c.json(await listJobs(batch, actorOf(c), c.req.valid('query')), 200))
    .openapi(get, async (c) => c.json(await getJob(batch, actorOf(c), c.req.valid('param').id), 200))
    .openapi(cancel, async (c) =>
      c.json(await cancelJob(batch, actorOf(c), c.req.valid('param').id, (id) => runner.kick(id)), 200),
    )
    .openapi(urls, async (c) =>
      c.json(
        await jobDownloadUrls(batch, actorOf(c), c.req.valid('param').id, c.req.valid('query').expiresIn),
        200,
      ),
    );
}
