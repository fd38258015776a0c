import { createRoute, z } from '@hono/zod-openapi';
import {
  AgentHeartbeat,
  AgentRegistration,
  DesiredStatePoll,
  HeartbeatResponse,
  RegistrationResponse,
  UsageAck,
  UsageReport,
} from '@meridian/protocol';
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../http/context.js';
import { errors, jsonBody, jsonContent, newRouter } from '../http/openapi.js';
import { type AgentIdentity, authenticateAgent } from '../services/agents/authenticate.js';
import type { AgentServiceDeps } from '../services/agents/deps.js';
import { MAX_POLL_WAIT_SECONDS, pollDesiredState } from '../services/agents/desired-state.js';
import { recordHeartbeat } from '../services/agents/heartbeat.js';
import { registerAgent } from '../services/agents/register.js';
import { recordUsage } from '../services/agents/usage.js';

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
export function agentRoutes(deps: AgentServiceDeps) {
  const authed = { tags: ['agents'], security: [{ agentCredential: [] }], middleware: requireAgent(deps) };
  const register = createRoute({
    method: 'post',
    path: '/agent/v1/register',
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
    summary: 'Report inventory and workloads; marks the agent alive',
    request: jsonBody(AgentHeartbeat),
    responses: { 200: jsonContent(HeartbeatResponse, 'Recorded'), ...errors(401) },
  });
  const desiredState = createRoute({
    ...authed,
    method: 'get',
    path: '/agent/v1/desired-state',
    summary: 'Long poll for what this agent should run',
    description: 'Answers at once when the version differs from `since`; else holds up to `wait` seconds.',
    request: { query: PollQuery },
    responses: { 200: jsonContent(DesiredStatePoll, 'The desired state, or `unchanged`'), ...errors(401) },
  });
  const usage = createRoute({
    ...authed,
    method: 'post',
    path: '/agent/v1/usage',
    summary: 'Report GPU seconds per workload; a seq already counted is acknowledged and ignored',
    request: jsonBody(UsageReport),
    responses: { 200: jsonContent(UsageAck, 'Acknowledged'), ...errors(401) },
  });

  return newRouter()
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
    );
}
