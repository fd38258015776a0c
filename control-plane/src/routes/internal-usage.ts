import { createRoute } from '@hono/zod-openapi';
import { UsageBatch, UsageBatchAck } from '@meridian/protocol';
import { bodyLimit } from 'hono/body-limit';
import type { Database } from '../db/client.js';
import { AppError } from '../errors.js';
import { requireEdgeToken } from '../http/guards.js';
import { errors, jsonBody, jsonContent, newRouter } from '../http/openapi.js';
import { recordEdgeUsage } from '../services/usage/edge-usage.js';

export const USAGE_PATH = '/internal/v1/usage';

/**
 * The largest batch the protocol allows (5,000 records, every id at its 64-character maximum) is about
 * 2.1 MB, more than the app's JSON limit; this route, which only the edge reaches, has its own.
 */
export const MAX_USAGE_BATCH_BYTES = 4 * 1024 * 1024;

/** Edge usage batches, stored once each: the input of the usage ledger. */
export function internalUsageRoutes({ db, edgeServiceToken }: { db: Database; edgeServiceToken: string }) {
  const ingest = createRoute({
    method: 'post',
    path: USAGE_PATH,
    operationId: 'ingestEdgeUsage',
    tags: ['internal'],
    summary: 'Edge only: store a sealed batch of prediction usage, once however often it is sent',
    description:
      'A `batchId` stored before answers `accepted: false` and stores nothing. Records of unknown orgs are stored too: billing decides.',
    security: [{ edgeService: [] }],
    middleware: [
      requireEdgeToken(edgeServiceToken),
      bodyLimit({
        maxSize: MAX_USAGE_BATCH_BYTES,
        onError: () => {
          throw new AppError('payload_too_large', `A usage batch is at most ${MAX_USAGE_BATCH_BYTES} bytes`);
        },
      }),
    ] as const,
    request: jsonBody(UsageBatch),
    responses: { 200: jsonContent(UsageBatchAck, 'Stored now, or stored before'), ...errors(401) },
  });
  return newRouter().openapi(ingest, async (c) =>
    c.json(await recordEdgeUsage(db, c.req.valid('json')), 200),
  );
}
