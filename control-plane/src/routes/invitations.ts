import { createRoute, z } from '@hono/zod-openapi';
import { actorOf } from '../http/guards.js';
import { bearerAuth, errors, jsonBody, jsonContent, newRouter } from '../http/openapi.js';
import type { Logger } from '../lib/logger.js';
import { deliverInvitation, type Mailer } from '../services/orgs/invitation-mail.js';
import {
  acceptInvitation,
  declineInvitation,
  previewInvitation,
} from '../services/orgs/invitation-replies.js';
import {
  type InvitationLimits,
  inviteMember,
  listOrgInvitations,
  revokeInvitation,
} from '../services/orgs/invitations.js';
import type { RouteDeps } from './deps.js';
import { Email, IdParam, OrgSummarySchema, RoleSchema } from './schemas.js';

const InvitationSchema = z
  .object({
    id: z.string(),
    email: z.string(),
    role: RoleSchema,
    org: z.object({ id: z.string(), name: z.string() }),
    /** The inviter's e-mail, or `key <name>` for an API key, as it read when they invited. */
    invitedBy: z.string(),
    createdAt: z.string(),
    expiresAt: z.string(),
  })
  .openapi('Invitation');
const CreatedInvitationSchema = z
  .object({
    invitation: InvitationSchema,
    mailSent: z.boolean(),
    mailError: z.string().optional().openapi({
      description:
        "Why no mail went out, when none did, in plain words: no SMTP server is configured, or the server did not take it (its own error is in the operator's log, not here)",
    }),
    token: z.string().optional().openapi({
      description: 'Only when no mail went out: the invitation token, shown this once; pass it on yourself',
    }),
    acceptUrl: z
      .string()
      .optional()
      .openapi({ description: 'Only when no mail went out: the link to pass on' }),
  })
  .openapi('CreatedInvitation');
const AcceptedInvitationSchema = z
  .object({ org: z.object({ id: z.string(), name: z.string() }), role: OrgSummarySchema.shape.role })
  .openapi('AcceptedInvitation');
const InvitationParams = z.object({
  invitationId: IdParam('inv').openapi({ param: { name: 'invitationId', in: 'path' } }),
});
const TokenBody = z.strictObject({ token: z.string().min(1).max(200) });

export function invitationRoutes(
  deps: RouteDeps & { mailer?: Mailer; publicUrl: string; logger: Logger; limits?: InvitationLimits },
) {
  const common = { security: bearerAuth, middleware: deps.requireAuth };
  const org = { ...common, tags: ['organisations'] };
  const mine = { ...common, tags: ['invitations'] };

  const invite = createRoute({
    ...org,
    method: 'post',
    path: '/v1/org/invitations',
    operationId: 'inviteMember',
    summary: 'Invite someone by e-mail with a role; they join only once they accept',
    description:
      'The invitation is mailed to the address (MERIDIAN_SMTP_*) and expires after 7 days (sooner if the ' +
      'inviting API key expires sooner). Without a working SMTP server it is still made, and the answer carries ' +
      "its link and token, shown this once, with a plain reason (the SMTP server's own error goes to the " +
      "operator's log). A pending invitation to the same address is replaced. An organisation holds at most 50 " +
      'pending invitations.',
    request: jsonBody(z.strictObject({ email: Email, role: RoleSchema })),
    responses: {
      201: jsonContent(CreatedInvitationSchema, 'Invited'),
      ...errors(401, 403, 409, 429),
    },
  });
  const listOrg = createRoute({
    ...org,
    method: 'get',
    path: '/v1/org/invitations',
    operationId: 'listOrgInvitations',
    summary: 'Pending invitations of the active organisation (owners and admins)',
    description:
      'Each can still be accepted: an inviter removed, leaving or demoted, or an API key revoked, takes with them ' +
      'the invitations they could no longer make (revoked, in the audit log as invitation.revoke with a reason).',
    responses: {
      200: jsonContent(z.object({ items: z.array(InvitationSchema) }), 'Pending invitations'),
      ...errors(401, 403),
    },
  });
  const revoke = createRoute({
    ...org,
    method: 'delete',
    path: '/v1/org/invitations/{invitationId}',
    operationId: 'revokeInvitation',
    summary: 'Revoke a pending invitation; its link stops working',
    request: { params: InvitationParams },
    responses: { 204: { description: 'Revoked' }, ...errors(401, 403, 404) },
  });
  // The invitee names an invitation by its token only, never by id: addresses are not verified at
  // registration, so an account with the invited address proves nothing until it shows the mailed token.
  const answer = {
    ...mine,
    method: 'post',
    request: jsonBody(TokenBody),
  } as const;
  const preview = createRoute({
    ...answer,
    path: '/v1/invitations/preview',
    operationId: 'previewInvitation',
    summary: 'What the invitation whose token you hold offers: organisation, role, inviter and expiry',
    description:
      'For the page the invitation link opens. Only the invited address, signed in, sees it: a token for ' +
      'another address is 404, as an unknown one is.',
    responses: { 200: jsonContent(InvitationSchema, 'The invitation'), ...errors(401, 403, 404, 409) },
  });
  const accept = createRoute({
    ...answer,
    path: '/v1/invitations/accept',
    operationId: 'acceptInvitation',
    summary: 'Accept the invitation whose token the e-mail or link carried: you join its organisation',
    description:
      'Signed in as the invited address. The token is required: e-mail addresses are not verified at ' +
      'registration, so an invitation is accepted only with its link.',
    responses: { 200: jsonContent(AcceptedInvitationSchema, 'Joined'), ...errors(401, 403, 404, 409) },
  });
  const decline = createRoute({
    ...answer,
    path: '/v1/invitations/decline',
    operationId: 'declineInvitation',
    summary: 'Decline the invitation whose token the e-mail or link carried',
    responses: { 204: { description: 'Declined' }, ...errors(401, 403, 404, 409) },
  });

  return newRouter()
    .openapi(invite, async (c) => {
      const created = await inviteMember(deps.db, actorOf(c), c.req.valid('json'), deps.limits);
      const delivery = await deliverInvitation(deps, created);
      return c.json({ invitation: created.invitation, ...delivery }, 201);
    })
    .openapi(listOrg, async (c) => c.json({ items: await listOrgInvitations(deps.db, actorOf(c)) }, 200))
    .openapi(revoke, async (c) => {
      await revokeInvitation(deps.db, actorOf(c), c.req.valid('param').invitationId);
      return c.body(null, 204);
    })
    .openapi(preview, async (c) =>
      c.json(await previewInvitation(deps.db, c.var.principal, c.req.valid('json')), 200),
    )
    .openapi(accept, async (c) =>
      c.json(await acceptInvitation(deps.db, deps.identityCache, actorOf(c), c.req.valid('json')), 200),
    )
    .openapi(decline, async (c) => {
      await declineInvitation(deps.db, actorOf(c), c.req.valid('json'));
      return c.body(null, 204);
    });
}
