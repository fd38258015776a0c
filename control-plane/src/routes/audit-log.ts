import { createRoute, z } from '@hono/zod-openapi';
import { requirePermission } from '../auth/permissions.js';
import { bearerAuth, errors, jsonContent, newRouter } from '../http/openapi.js';
import { listAuditLog } from '../services/audit/list.js';
import type { RouteDeps } from './deps.js';
import { Cursor, Limit } from './schemas.js';

const AuditEntrySchema = z
  .object({
    id: z.string(),
    actor: z.object({ type: z.enum(['user', 'api_key']), id: z.string() }),
    action: z.string(),
    target: z.object({ type: z.string(), id: z.string() }),
    requestId: z.string(),
    clientIp: z.string().nullable(),
    metadata: z.record(z.string(), z.unknown()),
    createdAt: z.string(),
  })
  .openapi('AuditEntry');

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
      query: z.object({ limit: Limit, cursor: Cursor, action: z.string().max(64).optional() }),
    },
    responses: {
      200: jsonContent(
        z.object({ items: z.array(AuditEntrySchema), nextCursor: z.string().nullable() }),
        'A page',
      ),
      ...errors(401, 403),
    },
  });
  return newRouter().openapi(list, async (c) => {
    requirePermission(c.var.principal, 'audit:read');
    return c.json(await listAuditLog(deps.db, c.var.principal.orgId, c.req.valid('query')), 200);
  });
}
