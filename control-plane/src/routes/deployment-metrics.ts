import { createRoute, z } from '@hono/zod-openapi';
import { DeploymentMetricsAck, DeploymentMetricsBatch, LATENCY_BUCKET_BOUNDS_MS } from '@meridian/protocol';
import { bodyLimit } from 'hono/body-limit';
import { requirePermission } from '../auth/permissions.js';
import { AppError } from '../errors.js';
import { requireEdgeToken } from '../http/guards.js';
import { bearerAuth, errors, jsonBody, jsonContent, newRouter } from '../http/openapi.js';
import { recordEdgeMetrics } from '../services/monitoring/ingest-metrics.js';
import { renderOrgMetrics } from '../services/monitoring/prometheus-text.js';
import { getDeploymentMetrics } from '../services/monitoring/query-metrics.js';
import type { RouteDeps } from './deps.js';
import { decimalInt, IdParam } from './schemas.js';

export const DEPLOYMENT_METRICS_PATH = '/internal/v1/deployment-metrics';
const MAX_BATCH_BYTES = 8 * 1024 * 1024;

const Histogram = z
  .object({
    counts: z.array(z.number()).openapi({ description: 'Per bucket, not cumulative; bounds in `buckets`' }),
    sumMs: z.number(),
    count: z.number(),
    p50: z.number().nullable(),
    p95: z.number().nullable(),
    p99: z.number().nullable(),
  })
  .openapi('LatencyHistogram');
const Counts = z.object({
  '1xx': z.number(),
  '2xx': z.number(),
  '3xx': z.number(),
  '4xx': z.number(),
  '5xx': z.number(),
});
const MetricsAnswer = z
  .object({
    deploymentId: z.string(),
    name: z.string(),
    from: z.string(),
    to: z.string(),
    step: z.number().openapi({ description: 'Seconds per point (rounded up to whole rows)' }),
    resolution: z.number().openapi({ description: '60 within 48 h, 3600 beyond' }),
    buckets: z
      .array(z.number())
      .openapi({ description: 'Upper bounds (ms) of the histogram buckets; the last bucket is +Inf' }),
    series: z.array(
      z.object({
        versionId: z.string().nullable(),
        version: z.number().nullable(),
        points: z.array(
          z.object({
            at: z.string(),
            requests: Counts,
            latency: Histogram,
            queue: Histogram,
            compute: Histogram,
          }),
        ),
      }),
    ),
  })
  .openapi('DeploymentMetrics');

const Query = z.object({
  from: z.iso.datetime({ offset: true }).optional().openapi({ description: 'Default: an hour before `to`' }),
  to: z.iso.datetime({ offset: true }).optional().openapi({ description: 'Default: now' }),
  step: decimalInt(60, 30 * 24 * 3600)
    .default(60)
    .openapi({ description: 'Seconds per point, at least 60' }),
});

/** Per-deployment metrics: the edge's batches in, the REST view and the org's Prometheus text out. */
export function deploymentMetricsRoutes({
  edgeServiceToken,
  ...deps
}: RouteDeps & { edgeServiceToken: string }) {
  const ingest = createRoute({
    method: 'post',
    path: DEPLOYMENT_METRICS_PATH,
    operationId: 'ingestDeploymentMetrics',
    tags: ['internal'],
    summary: 'Edge only: store an isolate batch of per-deployment metrics, once however often it is sent',
    security: [{ edgeService: [] }],
    middleware: [
      requireEdgeToken(edgeServiceToken),
      bodyLimit({
        maxSize: MAX_BATCH_BYTES,
        onError: () => {
          throw new AppError('payload_too_large', `A metrics batch is at most ${MAX_BATCH_BYTES} bytes`);
        },
      }),
    ] as const,
    request: jsonBody(DeploymentMetricsBatch),
    responses: { 200: jsonContent(DeploymentMetricsAck, 'Stored now, or stored before'), ...errors(401) },
  });
  const get = createRoute({
    method: 'get',
    path: '/v1/deployments/{id}/metrics',
    operationId: 'getDeploymentMetrics',
    tags: ['monitoring'],
    summary: 'Requests by status class and latency histograms of a deployment, per version and step',
    security: bearerAuth,
    middleware: deps.requireAuth,
    request: {
      params: z.object({ id: IdParam('dep').openapi({ param: { name: 'id', in: 'path' } }) }),
      query: Query,
    },
    responses: { 200: jsonContent(MetricsAnswer, 'The series'), ...errors(401, 403, 404) },
  });
  const prometheus = createRoute({
    method: 'get',
    path: '/v1/metrics/prometheus',
    operationId: 'getOrgPrometheusMetrics',
    tags: ['monitoring'],
    summary:
      "The org's per-deployment metrics in Prometheus text format (an API key with the `metrics` scope)",
    security: bearerAuth,
    middleware: deps.requireAuth,
    responses: {
      200: {
        description: 'Prometheus text exposition format 0.0.4',
        content: { 'text/plain': { schema: z.string() } },
      },
      ...errors(401, 403),
    },
  });
  return newRouter()
    .openapi(ingest, async (c) => c.json(await recordEdgeMetrics(deps.db, c.req.valid('json')), 200))
    .openapi(get, async (c) => {
      const principal = c.get('principal');
      requirePermission(principal, 'deployments:read');
      const q = c.req.valid('query');
      const to = q.to ? Date.parse(q.to) / 1000 : Math.floor(Date.now() / 1000);
      const from = q.from ? Date.parse(q.from) / 1000 : to - 3600;
      const answer = await getDeploymentMetrics(deps.db, principal.orgId, c.req.valid('param').id, {
        from: Math.floor(from),
        to: Math.ceil(to),
        step: q.step,
      });
      return c.json({ ...answer, buckets: [...LATENCY_BUCKET_BOUNDS_MS] }, 200);
    })
    .openapi(prometheus, async (c) =>
      c.text(await renderOrgMetrics(deps.db, c.get('principal')), 200, {
        'content-type': 'text/plain; version=0.0.4; charset=utf-8',
      }),
    );
}
