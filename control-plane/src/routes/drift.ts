import { createRoute, z } from '@hono/zod-openapi';
import { AgentMonitoringAck, AgentMonitoringReport } from '@meridian/protocol';
import { bodyLimit } from 'hono/body-limit';
import { AppError } from '../errors.js';
import { actorOf } from '../http/guards.js';
import { bearerAuth, errors, jsonBody, jsonContent, newRouter } from '../http/openapi.js';
import type { AgentServiceDeps } from '../services/agents/deps.js';
import { getDeploymentDrift } from '../services/drift/get-drift.js';
import type { DriftSettings } from '../services/drift/ingest-drift.js';
import { recordAgentReport } from '../services/monitoring/agent-report.js';
import { requireAgent } from './agents.js';
import type { RouteDeps } from './deps.js';
import { IdParam } from './schemas.js';

export const AGENT_MONITORING_PATH = '/agent/v1/monitoring';
const MAX_REPORT_BYTES = 8 * 1024 * 1024;

const Drift = z
  .object({
    deploymentId: z.string(),
    name: z.string(),
    drifted: z.array(z.string()).openapi({ description: 'Features whose latest window drifted' }),
    features: z.array(
      z.object({
        feature: z
          .string()
          .openapi({ description: '`<input>[<column>]` for tabular inputs, `<input>` otherwise' }),
        reference: z.object({ samples: z.number(), complete: z.boolean() }),
        windows: z.array(
          z.object({
            window: z.string(),
            method: z.enum(['ks', 'psi', 'chi2']),
            score: z.number(),
            pValue: z.number().nullable(),
            drifted: z.boolean(),
            samples: z.number(),
          }),
        ),
      }),
    ),
  })
  .openapi('DeploymentDrift');

/** Drift: agents' sketches in, per-feature scores out. */
export function driftRoutes({
  agent,
  settings,
  ...deps
}: RouteDeps & { agent: AgentServiceDeps; settings: DriftSettings }) {
  const report = createRoute({
    method: 'post',
    path: AGENT_MONITORING_PATH,
    operationId: 'reportAgentMonitoring',
    tags: ['agents'],
    summary:
      'Agent only: queue and compute figures per deployment and drift sketches, stored once per report',
    security: [{ agentCredential: [] }],
    middleware: requireAgent(agent),
    request: jsonBody(AgentMonitoringReport),
    responses: { 200: jsonContent(AgentMonitoringAck, 'Stored now, or stored before'), ...errors(401) },
  });
  const get = createRoute({
    method: 'get',
    path: '/v1/deployments/{id}/drift',
    operationId: 'getDeploymentDrift',
    tags: ['monitoring'],
    summary: "Drift of a deployment's inputs per feature: the reference and each window's score",
    security: bearerAuth,
    middleware: deps.requireAuth,
    request: {
      params: z.object({ id: IdParam('dep').openapi({ param: { name: 'id', in: 'path' } }) }),
      query: z.object({
        from: z.iso.datetime({ offset: true }).optional().openapi({ description: 'Default: 24 hours ago' }),
      }),
    },
    responses: { 200: jsonContent(Drift, 'Per feature'), ...errors(401, 403, 404) },
  });
  const router = newRouter();
  // The agent is authenticated (route middleware) before a byte of the body is read past this limit.
  router.use(
    AGENT_MONITORING_PATH,
    bodyLimit({
      maxSize: MAX_REPORT_BYTES,
      onError: () => {
        throw new AppError('payload_too_large', `A monitoring report is at most ${MAX_REPORT_BYTES} bytes`);
      },
    }),
  );
  return router
    .openapi(report, async (c) =>
      c.json(await recordAgentReport(deps.db, c.var.agent.agentId, c.req.valid('json'), settings), 200),
    )
    .openapi(get, async (c) => {
      const from = c.req.valid('query').from;
      const fromSeconds = Math.floor((from ? Date.parse(from) : Date.now() - 86_400_000) / 1000);
      return c.json(await getDeploymentDrift(deps.db, actorOf(c), c.req.valid('param').id, fromSeconds), 200);
    });
}
