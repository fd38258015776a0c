import { createRoute, z } from '@hono/zod-openapi';
import { RoutingSnapshot, RoutingUnchanged } from '@meridian/protocol';
import type { Database } from '../db/client.js';
import { requireEdgeToken, requireOperatorToken } from '../http/guards.js';
import { errors, jsonContent, newRouter } from '../http/openapi.js';
import { drainAgent, listAgents } from '../services/scheduler/agents-admin.js';
import type { RoutingSnapshots } from '../services/scheduler/routing-snapshot.js';
import type { SchedulerTrigger } from '../services/scheduler/trigger.js';

const SinceQuery = z.object({
  since: z.coerce
    .number()
    .int()
    .nonnegative()
    .optional()
    .openapi({ description: 'The version the edge holds' }),
});
const AgentParams = z.object({ agentId: z.string().max(64) });
const AgentSummary = z
  .object({
    id: z.string(),
    hostname: z.string(),
    status: z.enum(['online', 'lost', 'draining']),
    dataPlaneUrl: z.string(),
    gpus: z.number().int(),
    workloads: z.number().int(),
    lastHeartbeatAt: z.string(),
  })
  .openapi('AgentSummary');

export interface InternalSchedulingDeps {
  db: Database;
  routing: RoutingSnapshots;
  scheduler: SchedulerTrigger;
  edgeServiceToken: string;
  operatorToken: string;
}

/** The edge's routing pull, and operator routes over the fleet: list agents, drain one. */
export function internalSchedulingRoutes(deps: InternalSchedulingDeps) {
  const routing = createRoute({
    method: 'get',
    path: '/internal/v1/routing',
    operationId: 'getRoutingSnapshot',
    tags: ['internal'],
    summary: 'Edge only: the routing snapshot, or `unchanged` when `since` is its version',
    security: [{ edgeService: [] }],
    middleware: requireEdgeToken(deps.edgeServiceToken),
    request: { query: SinceQuery },
    responses: {
      200: jsonContent(z.union([RoutingUnchanged, RoutingSnapshot]), 'The snapshot or `unchanged`'),
      ...errors(401),
    },
  });
  const operator = {
    tags: ['internal'],
    security: [{ operatorToken: [] }],
    middleware: requireOperatorToken(deps.operatorToken),
  };
  const list = createRoute({
    ...operator,
    method: 'get',
    path: '/internal/v1/agents',
    operationId: 'listAgents',
    summary: 'Operators only: every agent, its status and how many workloads it holds',
    responses: { 200: jsonContent(z.object({ items: z.array(AgentSummary) }), 'The fleet'), ...errors(401) },
  });
  const drain = createRoute({
    ...operator,
    method: 'post',
    path: '/internal/v1/agents/{agentId}/drain',
    operationId: 'drainAgent',
    summary: 'Operators only: place no new work on an agent and move its replicas elsewhere',
    description:
      'Each replica on the agent keeps serving until its replacement elsewhere is ready; notebooks stay until stopped.',
    request: { params: AgentParams },
    responses: { 200: jsonContent(AgentSummary, 'Draining'), ...errors(401, 404) },
  });
  return newRouter()
    .openapi(routing, async (c) => c.json(await deps.routing.pull(c.req.valid('query').since), 200))
    .openapi(list, async (c) => c.json({ items: await listAgents(deps.db) }, 200))
    .openapi(drain, async (c) => {
      const agent = await drainAgent(deps.db, c.req.valid('param').agentId);
      deps.scheduler.kick();
      return c.json(agent, 200);
    });
}
