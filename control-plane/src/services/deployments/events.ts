import { newId } from '@meridian/protocol';
import { and, asc, desc, eq, gt, lt } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { deploymentEvents } from '../../db/schema.js';
import type { Writer } from '../audit/record.js';
import { idCursor, splitPage } from '../pagination.js';

/** The events the API writes; the scheduler adds its own (placements, status changes, replicas lost). */
export type ApiEventType = 'created' | 'rollout_requested' | 'canary_requested' | 'updated' | 'woken';

export async function recordEvent(
  db: Writer,
  event: { deploymentId: string; orgId: string; type: ApiEventType; message: string },
): Promise<void> {
  await db.insert(deploymentEvents).values({ id: newId('deploymentEvent'), ...event, at: new Date() });
}

/** Which end of a deployment's history a page starts from. */
export type EventOrder = 'oldest' | 'newest';

/**
 * A deployment's events, oldest first (or newest first), keyset-paged by id (ids sort by time): a page's
 * cursor continues in the order it was made in. The caller checked the org.
 */
export async function listEventsOf(
  db: Database,
  deploymentId: string,
  page: { limit: number; cursor?: string; order?: EventOrder },
) {
  const newest = page.order === 'newest';
  const after = idCursor(page.cursor, 'dpe');
  const rows = await db
    .select()
    .from(deploymentEvents)
    .where(
      and(
        eq(deploymentEvents.deploymentId, deploymentId),
        after ? (newest ? lt : gt)(deploymentEvents.id, after) : undefined,
      ),
    )
    .orderBy(newest ? desc(deploymentEvents.id) : asc(deploymentEvents.id))
    .limit(page.limit + 1);
  const { items, nextCursor } = splitPage(rows, page.limit, (r) => r.id);
  return {
    items: items.map((r) => ({ id: r.id, type: r.type, message: r.message, at: r.at.toISOString() })),
    nextCursor,
  };
}
