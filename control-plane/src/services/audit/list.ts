import { and, desc, eq, lt } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { auditLog } from '../../db/schema.js';
import { splitPage } from '../pagination.js';

export interface AuditQuery {
  limit: number;
  cursor?: string;
  action?: string;
}

/** Newest first, keyset-paged by id (ids sort by time), always inside one org. */
export async function listAuditLog(db: Database, orgId: string, query: AuditQuery) {
  const rows = await db
    .select()
    .from(auditLog)
    .where(
      and(
        eq(auditLog.orgId, orgId),
        query.cursor ? lt(auditLog.id, query.cursor) : undefined,
        query.action ? eq(auditLog.action, query.action) : undefined,
      ),
    )
    .orderBy(desc(auditLog.id))
    .limit(query.limit + 1);
  const { items, nextCursor } = splitPage(rows, query.limit, (r) => r.id);
  return {
    items: items.map((r) => ({
      id: r.id,
      actor: { type: r.actorType, id: r.actorId },
      action: r.action,
      target: { type: r.targetType, id: r.targetId },
      requestId: r.requestId,
      clientIp: r.clientIp,
      metadata: r.metadata ?? {},
      createdAt: r.createdAt.toISOString(),
    })),
    nextCursor,
  };
}
