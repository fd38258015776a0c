import { createRoute, z } from '@hono/zod-openapi';
import { OrgStatus, Plan } from '@meridian/protocol';
import type { Database } from '../db/client.js';
import { requireEdgeToken, requireOperatorToken } from '../http/guards.js';
import { errors, jsonBody, jsonContent, newRouter } from '../http/openapi.js';
import { setStandingAsOperator } from '../services/billing/operator-standing.js';
import { getOrgStatus } from '../services/orgs/standing.js';
import { hasNoNul, NO_NUL } from './schemas.js';

// Any string the edge may hold as an org id: an unknown one answers 404, which the edge caches as such.
const OrgParams = z.object({ orgId: z.string().min(1).max(128) });

const StandingBody = z
  .strictObject({
    plan: Plan.optional(),
    suspended: z.boolean().optional().openapi({ description: 'true suspends the org; false lifts it' }),
    reason: z
      .string()
      .min(1)
      .max(500)
      .refine(hasNoNul, NO_NUL)
      .optional()
      .openapi({ description: 'Why it is suspended, shown to its callers; only with `suspended: true`' }),
  })
  .refine((b) => b.plan !== undefined || b.suspended !== undefined, 'give plan, suspended or both')
  .refine((b) => b.reason === undefined || b.suspended === true, {
    path: ['reason'],
    message: 'a reason goes with suspended: true',
  });

const StandingSet = OrgStatus.extend({
  subscriptionRetried: z.boolean().openapi({
    description:
      'true when `plan` is the one the org is on and Stripe had refused to start its subscription: billing ' +
      'tries again on its next pass (for Enterprise, which owners cannot choose, this is how to ask). false otherwise.',
  }),
  usageBackfillRetried: z.boolean().openapi({
    description:
      'true when `plan` is the one the org is on and Stripe had refused the invoice items of usage from before ' +
      'its subscription: billing sends them again, to its subscription as it is then. false otherwise.',
  }),
}).openapi('OrgStandingSet');

export interface InternalOrgDeps {
  db: Database;
  edgeServiceToken: string;
  operatorToken: string;
}

/** The edge reads an org's plan and standing; operators (and billing, through the service) change them. */
export function internalOrgRoutes(deps: InternalOrgDeps) {
  const status = createRoute({
    method: 'get',
    path: '/internal/v1/orgs/{orgId}',
    operationId: 'getOrgStanding',
    tags: ['internal'],
    summary: 'Edge only: an org’s plan, monthly call quota and whether it is suspended',
    security: [{ edgeService: [] }],
    middleware: requireEdgeToken(deps.edgeServiceToken),
    request: { params: OrgParams },
    responses: { 200: jsonContent(OrgStatus, 'What the edge enforces'), ...errors(401, 404) },
  });
  const standing = createRoute({
    method: 'put',
    path: '/internal/v1/orgs/{orgId}/standing',
    operationId: 'setOrgStanding',
    tags: ['internal'],
    summary: 'Operators only: change an org’s plan, or suspend it or lift its suspension',
    description:
      'Edges apply the change when their cached status expires. The plan the org is already on asks billing to ' +
      'try again what Stripe refused (subscriptionRetried, usageBackfillRetried).',
    security: [{ operatorToken: [] }],
    middleware: requireOperatorToken(deps.operatorToken),
    request: { params: OrgParams, ...jsonBody(StandingBody) },
    responses: { 200: jsonContent(StandingSet, 'The org’s standing now'), ...errors(401, 404) },
  });
  return newRouter()
    .openapi(status, async (c) => c.json(await getOrgStatus(deps.db, c.req.valid('param').orgId), 200))
    .openapi(standing, async (c) =>
      c.json(await setStandingAsOperator(deps.db, c.req.valid('param').orgId, c.req.valid('json')), 200),
    );
}
