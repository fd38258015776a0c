import { createRoute, z } from '@hono/zod-openapi';
import { requirePermission } from '../auth/permissions.js';
import { bearerAuth, errors, jsonContent, newRouter } from '../http/openapi.js';
import { listAuditLog } from '../services/audit/list.js';
import { AUDIT_ACTIONS, isAuditAction } from '../services/audit/record.js';
import type { RouteDeps } from './deps.js';
import { Cursor, Limit } from './schemas.js';

const AuditEntrySchema = z
  .object({
    id: z.string(),
    actor: z.object({
      type: z.enum(['user', 'api_key']),
      id: z.string(),
      name: z.string().nullable().openapi({
        description: 'A user’s e-mail or an API key’s name, former members and revoked keys included',
      }),
    }),
    action: z.string(),
    target: z.object({ type: z.string(), id: z.string() }),
    requestId: z.string(),
    clientIp: z.string().nullable(),
    metadata: z.record(z.string(), z.unknown()),
    createdAt: z.string(),
  })
  .openapi('AuditEntry');

const Time = z.iso.datetime({ offset: true });

const AuditQuerySchema = z
  .object({
    limit: Limit,
    cursor: Cursor,
    action: z
      .string()
      .max(64)
      .refine(isAuditAction, {
        message: `not an action the audit log records; one of ${AUDIT_ACTIONS.join(', ')}`,
      })
      .optional()
      .openapi({
        description: `One action, named whole (not a prefix): ${AUDIT_ACTIONS.map((a) => `\`${a}\``).join(', ')}`,
      }),
    actor: z
      .string()
      .max(64)
      .optional()
      .openapi({ description: 'What one user (`usr_…`) or API key (`key_…`) did' }),
    target: z
      .string()
      .max(512)
      .optional()
      .openapi({ description: 'What was done to one resource, by its id (`dep_…`, `key_…`, an image…)' }),
    since: Time.optional().openapi({ description: 'Entries created at or after this time' }),
    until: Time.optional().openapi({ description: 'Entries created before this time' }),
  })
  .refine((q) => !q.since || !q.until || Date.parse(q.since) < Date.parse(q.until), {
    message: '`since` must be before `until`',
    path: ['until'],
  });

export function auditLogRoutes(deps: RouteDeps) {
  const list = createRoute({
    method: 'get',
    path: '/v1/audit-log',
    operationId: 'listAuditLog',
    tags: ['audit'],
    summary: 'Every mutation in the active organisation, newest first (owners and admins)',
    security: bearerAuth,
    middleware: deps.requireAuth,
    request: {
      query: AuditQuerySchema,
    },
    responses: {
      200: jsonContent(
        z.object({ items: z.array(AuditEntrySchema), nextCursor: z.string().nullable() }),
        'A page',
      ),
      ...errors(400, 401, 403),
    },
  });
  return newRouter().openapi(list, async (c) => {
    requirePermission(c.var.principal, 'audit:read');
    const { since, until, ...query } = c.req.valid('query');
    return c.json(
      await listAuditLog(deps.db, c.var.principal.orgId, {
        ...query,
        ...(since ? { since: new Date(since) } : {}),
        ...(until ? { until: new Date(until) } : {}),
      }),
      200,
    );
  });
}
