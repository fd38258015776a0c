import { createRoute, z } from '@hono/zod-openapi';
import { Plan } from '@meridian/protocol';
import { forbidden } from '../errors.js';
import { actorOf } from '../http/guards.js';
import { bearerAuth, errors, jsonBody, jsonContent, newRouter } from '../http/openapi.js';
import { listUserOrgs } from '../services/orgs/me.js';
import { changeRole, listMembers, removeMember } from '../services/orgs/members.js';
import { createOrg, getActiveOrg, renameActiveOrg } from '../services/orgs/orgs.js';
import type { RouteDeps } from './deps.js';
import {
  Cursor,
  DisplayName,
  IdParam,
  Limit,
  MemberSchema,
  OrgSummarySchema,
  pageOf,
  RoleSchema,
} from './schemas.js';

const OrgSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    personal: z.boolean(),
    plan: Plan,
    /** Suspended orgs (a failed payment) get 402 on every prediction until it is lifted. */
    suspended: z.boolean(),
    createdAt: z.string(),
  })
  .openapi('Org');
const UserIdParams = z.object({ userId: IdParam('usr').openapi({ param: { name: 'userId', in: 'path' } }) });

export function orgRoutes(deps: RouteDeps) {
  const common = { security: bearerAuth, middleware: deps.requireAuth };

  const listMine = createRoute({
    ...common,
    method: 'get',
    path: '/v1/orgs',
    operationId: 'listOrgs',
    tags: ['organisations'],
    summary: 'Organisations the user belongs to',
    responses: {
      200: jsonContent(z.object({ items: z.array(OrgSummarySchema) }), 'Orgs'),
      ...errors(401, 403),
    },
  });
  const create = createRoute({
    ...common,
    method: 'post',
    path: '/v1/orgs',
    operationId: 'createOrg',
    tags: ['organisations'],
    summary: 'Create an organisation; the caller becomes its owner',
    request: jsonBody(z.strictObject({ name: DisplayName })),
    responses: { 201: jsonContent(OrgSummarySchema, 'Created'), ...errors(401, 403) },
  });
  const getActive = createRoute({
    ...common,
    method: 'get',
    path: '/v1/org',
    operationId: 'getOrg',
    tags: ['organisations'],
    summary: 'The active organisation (named by the credential)',
    responses: { 200: jsonContent(OrgSchema, 'The org'), ...errors(401, 403) },
  });
  const rename = createRoute({
    ...common,
    method: 'patch',
    path: '/v1/org',
    operationId: 'updateOrg',
    tags: ['organisations'],
    summary: 'Rename the active organisation',
    request: jsonBody(z.strictObject({ name: DisplayName })),
    responses: { 200: jsonContent(OrgSchema, 'Renamed'), ...errors(401, 403) },
  });
  const members = createRoute({
    ...common,
    method: 'get',
    path: '/v1/org/members',
    operationId: 'listMembers',
    tags: ['organisations'],
    summary: 'Members of the active organisation and their roles, a page at a time in the order they joined',
    request: { query: z.object({ limit: Limit, cursor: Cursor }) },
    responses: {
      200: jsonContent(pageOf(MemberSchema), 'Members'),
      ...errors(401, 403),
    },
  });
  const change = createRoute({
    ...common,
    method: 'patch',
    path: '/v1/org/members/{userId}',
    operationId: 'updateMember',
    tags: ['organisations'],
    summary: 'Change a member’s role (an org always keeps an owner)',
    request: { params: UserIdParams, ...jsonBody(z.strictObject({ role: RoleSchema })) },
    responses: { 200: jsonContent(MemberSchema, 'Changed'), ...errors(401, 403, 404, 409) },
  });
  const remove = createRoute({
    ...common,
    method: 'delete',
    path: '/v1/org/members/{userId}',
    operationId: 'removeMember',
    tags: ['organisations'],
    summary: 'Remove a member, or leave (never the last owner)',
    description:
      'Owners and admins remove members; any member may remove themself (leave the organisation), whatever ' +
      'their role. Their sessions in this organisation end at once. The API keys they made (and keys those ' +
      'keys made) are revoked, or with `keys=transfer` (owners removing someone else) handed to the calling ' +
      'owner; either way each is audited.',
    request: {
      params: UserIdParams,
      query: z.object({
        keys: z
          .enum(['revoke', 'transfer'])
          .default('revoke')
          .openapi({ description: 'What happens to the API keys the member made' }),
      }),
    },
    responses: { 204: { description: 'Removed' }, ...errors(401, 403, 404, 409) },
  });

  return newRouter()
    .openapi(listMine, async (c) => {
      const p = c.var.principal;
      if (p.type !== 'user') throw forbidden('API keys belong to one organisation; see GET /v1/org');
      return c.json({ items: await listUserOrgs(deps.db, p.userId) }, 200);
    })
    .openapi(create, async (c) =>
      c.json(await createOrg(deps.db, deps.identityCache, actorOf(c), c.req.valid('json').name), 201),
    )
    .openapi(getActive, async (c) => c.json(await getActiveOrg(deps.db, actorOf(c)), 200))
    .openapi(rename, async (c) =>
      c.json(await renameActiveOrg(deps.db, deps.identityCache, actorOf(c), c.req.valid('json').name), 200),
    )
    .openapi(members, async (c) => c.json(await listMembers(deps.db, actorOf(c), c.req.valid('query')), 200))
    .openapi(change, async (c) => {
      const { userId } = c.req.valid('param');
      return c.json(
        await changeRole(deps.db, deps.identityCache, actorOf(c), userId, c.req.valid('json').role),
        200,
      );
    })
    .openapi(remove, async (c) => {
      const { userId } = c.req.valid('param');
      await removeMember(deps.auth, deps.identityCache, actorOf(c), userId, c.req.valid('query').keys);
      return c.body(null, 204);
    });
}
