import { createRoute, z } from '@hono/zod-openapi';
import { SessionId, SessionStatus } from '@meridian/protocol';
import type { Database } from '../db/client.js';
import { requireEdgeToken } from '../http/guards.js';
import { errors, jsonContent, newRouter } from '../http/openapi.js';
import { sessionStatus } from '../services/auth/session-status.js';

// A well-formed id the control plane never issued answers `unknown`, which the edge caches as such.
const SessionParams = z.object({ sessionId: SessionId });

/** The edge learns revoked sessions the way it learns revoked keys: on a cache miss, never per prediction. */
export function internalSessionRoutes(deps: { db: Database; edgeServiceToken: string }) {
  const status = createRoute({
    method: 'get',
    path: '/internal/v1/sessions/{sessionId}',
    operationId: 'getSessionStatus',
    tags: ['internal'],
    summary: 'Edge only: whether a user session (the `sid` of an access token) still holds',
    security: [{ edgeService: [] }],
    middleware: requireEdgeToken(deps.edgeServiceToken),
    request: { params: SessionParams },
    responses: { 200: jsonContent(SessionStatus, 'The session as the edge must treat it'), ...errors(401) },
  });
  return newRouter().openapi(status, async (c) =>
    c.json(await sessionStatus(deps.db, c.req.valid('param').sessionId), 200),
  );
}
