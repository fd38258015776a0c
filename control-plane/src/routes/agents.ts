import { createRoute, z } from '@hono/zod-openapi';
import {
  AgentHeartbeat,
  AgentLoadReport,
  AgentRegistration,
  DesiredStatePoll,
  HeartbeatResponse,
  PredictionUsageAck,
  PredictionUsageReport,
  RegistrationResponse,
  UsageAck,
  UsageReport,
} from '@meridian/protocol';
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { AppError } from '../errors.js';
import type { AppEnv } from '../http/context.js';
import { errors, jsonBody, jsonContent, newRouter } from '../http/openapi.js';
import { type AgentIdentity, authenticateAgent } from '../services/agents/authenticate.js';
import type { AgentServiceDeps } from '../services/agents/deps.js';
import { MAX_POLL_WAIT_SECONDS, pollDesiredState } from '../services/agents/desired-state.js';
import { recordHeartbeat } from '../services/agents/heartbeat.js';
import { registerAgent } from '../services/agents/register.js';
import { recordUsage } from '../services/agents/usage.js';
import type { LoadSignals } from '../services/scheduler/load-signals.js';
import { recordAgentPredictions } from '../services/usage/agent-predictions.js';

/** Where agents send the prediction calls they served; it has its own body limit (a part is up to ~2 MB). */
export const PREDICTION_USAGE_PATH = '/agent/v1/prediction-usage';
const MAX_PREDICTION_USAGE_BYTES = 4 * 1024 * 1024;

type AgentEnv = AppEnv & { Variables: AppEnv['Variables'] & { agent: AgentIdentity } };

/** Authenticates the calling agent by its credential before anything of the request is read. */
export function requireAgent(deps: AgentServiceDeps): MiddlewareHandler<AgentEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization');
    const credential = header?.match(/^Bearer (.+)$/i)?.[1];
    c.set('agent', await authenticateAgent(deps.db, credential));
    await next();
  };
}

const PollQuery = z.object({
  since: z.coerce
    .number()
    .int()
    .min(0)
    .optional()
    .openapi({ description: 'The version the agent holds; absent: answer at once' }),
  wait: z.coerce
    .number()
    .int()
    .min(0)
    .max(MAX_POLL_WAIT_SECONDS)
    .default(0)
    .openapi({ description: 'Seconds to hold the request while nothing changes' }),
});

/** The agent protocol: register once with a bootstrap token, then heartbeat, poll and report usage. */
export function agentRoutes({ load, ...deps }: AgentServiceDeps & { load?: LoadSignals }) {
  const authed = { tags: ['agents'], security: [{ agentCredential: [] }], middleware: requireAgent(deps) };
  const register = createRoute({
    method: 'post',
    path: '/agent/v1/register',
    operationId: 'registerAgent',
    tags: ['agents'],
    summary: 'Register a host with a one-time bootstrap token; the credential is in this response only',
    security: [],
    request: jsonBody(AgentRegistration),
    responses: {
      201: jsonContent(RegistrationResponse, 'Registered; store the credential now'),
      ...errors(401),
    },
  });
  const heartbeat = createRoute({
    ...authed,
    method: 'post',
    path: '/agent/v1/heartbeat',
    operationId: 'sendAgentHeartbeat',
    summary: 'Report inventory and workloads; marks the agent alive',
    request: jsonBody(AgentHeartbeat),
    responses: { 200: jsonContent(HeartbeatResponse, 'Recorded'), ...errors(401) },
  });
  const desiredState = createRoute({
    ...authed,
    method: 'get',
    path: '/agent/v1/desired-state',
    operationId: 'getAgentDesiredState',
    summary: 'Long poll for what this agent should run',
    description: 'Answers at once when the version differs from `since`; else holds up to `wait` seconds.',
    request: { query: PollQuery },
    responses: { 200: jsonContent(DesiredStatePoll, 'The desired state, or `unchanged`'), ...errors(401) },
  });
  const usage = createRoute({
    ...authed,
    method: 'post',
    path: '/agent/v1/usage',
    operationId: 'reportAgentUsage',
    summary: 'Report GPU seconds per workload; a seq already counted is acknowledged and ignored',
    request: jsonBody(UsageReport),
    responses: { 200: jsonContent(UsageAck, 'Acknowledged'), ...errors(401) },
  });

  const loadReport = createRoute({
    ...authed,
    method: 'post',
    path: '/agent/v1/load',
    operationId: 'reportAgentLoad',
    summary:
      'Report calls in flight and queued per replica, about once a second while busy: the autoscaler reads it',
    request: jsonBody(AgentLoadReport),
    responses: { 204: { description: 'Recorded' }, ...errors(401) },
  });

  const predictions = createRoute({
    ...authed,
    method: 'post',
    path: PREDICTION_USAGE_PATH,
    operationId: 'reportPredictionUsage',
    summary: 'Report the prediction calls this agent answered; a (seq, part) already stored changes nothing',
    description:
      "Stored into the usage ledger as an edge batch of the same records would be. Records of deployments not placed on this agent, or not of the named org, or naming another org's key, are refused (counted in `refused`).",
    request: jsonBody(PredictionUsageReport),
    responses: { 200: jsonContent(PredictionUsageAck, 'Stored now, or before'), ...errors(401) },
  });

  const router = newRouter();
  router.use(
    PREDICTION_USAGE_PATH,
    bodyLimit({
      maxSize: MAX_PREDICTION_USAGE_BYTES,
      onError: () => {
        throw new AppError('payload_too_large', `A report is at most ${MAX_PREDICTION_USAGE_BYTES} bytes`);
      },
    }),
  );
  return router
    .openapi(register, async (c) => c.json(await registerAgent(deps, c.req.valid('json')), 201))
    .openapi(heartbeat, async (c) =>
      c.json(await recordHeartbeat(deps, c.var.agent.agentId, c.req.valid('json')), 200),
    )
    .openapi(desiredState, async (c) => {
      const { since, wait } = c.req.valid('query');
      const query = { waitSeconds: wait, ...(since === undefined ? {} : { since }) };
      return c.json(await pollDesiredState(deps, c.var.agent.agentId, query, c.req.raw.signal), 200);
    })
    .openapi(usage, async (c) =>
      c.json(await recordUsage(deps, c.var.agent.agentId, c.req.valid('json')), 200),
    )
    .openapi(loadReport, async (c) => {
      load?.recordAgentLoad(c.var.agent.agentId, c.req.valid('json'));
      return c.body(null, 204);
    })
    .openapi(predictions, async (c) =>
      c.json(await recordAgentPredictions(deps, c.var.agent.agentId, c.req.valid('json')), 200),
    );
}
