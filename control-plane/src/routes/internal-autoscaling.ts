import { createRoute, z } from '@hono/zod-openapi';
import { WAKE_MAX_WAIT_MS, WakeAnswer, WakeRequest } from '@meridian/protocol';
import { requireEdgeToken } from '../http/guards.js';
import { errors, jsonBody, jsonContent, newRouter } from '../http/openapi.js';
import { type WakeDeps, wakeDeployment } from '../services/deployments/wake.js';

const WakeParams = z.object({ deploymentId: z.string().min(1).max(64) });
const WakeQuery = z.object({
  waitMs: z.coerce
    .number()
    .int()
    .min(0)
    .max(WAKE_MAX_WAIT_MS)
    .default(0)
    .openapi({ description: 'How long to wait for a ready replica before answering `starting`' }),
});

/** The edge's wake of a deployment it holds calls for (scaled to zero, or still starting). */
export function internalAutoscalingRoutes(deps: WakeDeps & { edgeServiceToken: string }) {
  const wake = createRoute({
    method: 'post',
    path: '/internal/v1/deployments/{deploymentId}/wake',
    operationId: 'wakeDeployment',
    tags: ['internal'],
    summary:
      'Edge only: start a replica of a deployment at zero (coalesced) and optionally wait until it is ready',
    security: [{ edgeService: [] }],
    middleware: requireEdgeToken(deps.edgeServiceToken),
    request: { params: WakeParams, query: WakeQuery, ...jsonBody(WakeRequest) },
    responses: {
      200: jsonContent(WakeAnswer, 'Ready, starting, or failed with a reason'),
      ...errors(401, 404),
    },
  });
  return newRouter().openapi(wake, async (c) => {
    const { deploymentId } = c.req.valid('param');
    const { waitMs } = c.req.valid('query');
    const { held } = c.req.valid('json');
    return c.json(await wakeDeployment(deps, deploymentId, held, waitMs, c.req.raw.signal), 200);
  });
}
