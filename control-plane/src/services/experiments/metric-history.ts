import { and, asc, eq, gt, or } from 'drizzle-orm';
import { requirePermission } from '../../auth/permissions.js';
import type { Actor } from '../../auth/principal.js';
import type { Database } from '../../db/client.js';
import { runMetrics } from '../../db/schema.js';
import { invalidCursor } from '../pagination.js';
import { findRun } from './runs.js';

interface Position {
  step: number;
  timestamp: number;
  id: number;
}

/** The cursor is the sort position of the last point served: step, timestamp (ms) and row id. */
function encodeCursor(p: Position): string {
  return Buffer.from(`${p.step}:${p.timestamp}:${p.id}`).toString('base64url');
}

function decodeCursor(cursor: string): Position {
  const match = Buffer.from(cursor, 'base64url')
    .toString('utf8')
    .match(/^(\d{1,16}):(-?\d{1,16}):(\d{1,16})$/);
  if (!match) throw invalidCursor();
  return { step: Number(match[1]), timestamp: Number(match[2]), id: Number(match[3]) };
}

/** Every point of one metric, ordered by step, then timestamp, then the order they were logged. */
export async function metricHistory(
  db: Database,
  actor: Actor,
  runId: string,
  key: string,
  page: { limit: number; cursor?: string },
) {
  requirePermission(actor.principal, 'experiments:read');
  await findRun(db, actor.principal.orgId, runId);
  const after = page.cursor ? decodeCursor(page.cursor) : undefined;
  const afterTime = after ? new Date(after.timestamp) : undefined;
  const rows = await db
    .select()
    .from(runMetrics)
    .where(
      and(
        eq(runMetrics.runId, runId),
        eq(runMetrics.key, key),
        after && afterTime
          ? or(
              gt(runMetrics.step, after.step),
              and(eq(runMetrics.step, after.step), gt(runMetrics.timestamp, afterTime)),
              and(
                eq(runMetrics.step, after.step),
                eq(runMetrics.timestamp, afterTime),
                gt(runMetrics.id, after.id),
              ),
            )
          : undefined,
      ),
    )
    .orderBy(asc(runMetrics.step), asc(runMetrics.timestamp), asc(runMetrics.id))
    .limit(page.limit + 1);
  const items = rows.slice(0, page.limit);
  const last = items.at(-1);
  return {
    key,
    items: items.map((r) => ({ value: r.value, step: r.step, timestamp: r.timestamp.toISOString() })),
    nextCursor:
      rows.length > page.limit && last
        ? encodeCursor({ step: last.step, timestamp: last.timestamp.getTime(), id: last.id })
        : null,
  };
}
