import { createRoute, z } from '@hono/zod-openapi';
import type { Database } from '../db/client.js';
import { requireOperatorToken } from '../http/guards.js';
import { errors, jsonBody, jsonContent, newRouter } from '../http/openapi.js';
import { issueBootstrapToken } from '../services/agents/bootstrap-tokens.js';
import type { DesiredStateChanges } from '../services/agents/desired-state-changes.js';
import { rotateDataPlaneKey } from '../services/agents/rotate-key.js';
import type { SchedulerTrigger } from '../services/scheduler/trigger.js';

const IssueBody = z.strictObject({
  ttlSeconds: z
    .number()
    .int()
    .min(60)
    .max(7 * 24 * 3600)
    .default(3600)
    .openapi({ description: 'How long the token stays usable; it is spent by its first registration' }),
});

const IssuedToken = z
  .object({
    id: z.string(),
    token: z.string().openapi({ description: 'Shown once; pass it to the agent as its bootstrap token' }),
    expiresAt: z.string(),
  })
  .openapi('BootstrapToken');

const RotatedKey = z
  .object({
    agentId: z.string(),
    generation: z.number().int().openapi({ description: 'The generation the edge and the agent now use' }),
  })
  .openapi('RotatedDataPlaneKey');

export type InternalAgentDeps = {
  db: Database;
  operatorToken: string;
  /** Wakes the rotated agent's desired-state long poll, so it takes its new key at once. */
  changes: DesiredStateChanges;
  scheduler?: SchedulerTrigger | undefined;
};

/** Operator routes for the agent fleet. */
export function internalAgentRoutes({ db, operatorToken, changes, scheduler }: InternalAgentDeps) {
  const issue = createRoute({
    method: 'post',
    path: '/internal/v1/agents/bootstrap-tokens',
    operationId: 'issueAgentBootstrapToken',
    tags: ['internal'],
    summary: 'Operators only: issue a one-time bootstrap token for a new agent host',
    security: [{ operatorToken: [] }],
    middleware: requireOperatorToken(operatorToken),
    request: jsonBody(IssueBody),
    responses: {
      201: jsonContent(IssuedToken, 'Issued; the token is in this response only'),
      ...errors(401),
    },
  });
  const rotate = createRoute({
    method: 'post',
    path: '/internal/v1/agents/{agentId}/data-plane-key/rotate',
    operationId: 'rotateAgentDataPlaneKey',
    tags: ['internal'],
    summary:
      'Operators only: move an agent to a new data-plane key (the old one is refused after a grace period)',
    security: [{ operatorToken: [] }],
    middleware: requireOperatorToken(operatorToken),
    request: { params: z.object({ agentId: z.string().max(64) }) },
    responses: { 200: jsonContent(RotatedKey, 'Rotated'), ...errors(401, 404) },
  });
  return newRouter()
    .openapi(issue, async (c) =>
      c.json(await issueBootstrapToken(db, { ...c.req.valid('json'), createdBy: 'operator' }), 201),
    )
    .openapi(rotate, async (c) =>
      c.json(await rotateDataPlaneKey({ db, changes, scheduler }, c.req.valid('param').agentId), 200),
    );
}
