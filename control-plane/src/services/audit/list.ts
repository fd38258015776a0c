import { ID_PREFIXES, idFloorAt } from '@meridian/protocol';
import { and, desc, eq, gte, lt } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { apiKeys, auditLog, users } from '../../db/schema.js';
import { idCursor, splitPage } from '../pagination.js';

export interface AuditQuery {
  limit: number;
  cursor?: string;
  action?: string;
  /** A user or API key id: what one member or key did. */
  actor?: string;
  /** A target id: everything done to one deployment, key, model… */
  target?: string;
  /** Entries created at or after this time. */
  since?: Date;
  /** Entries created before this time. */
  until?: Date;
}

// Ids are minted a moment before their row's created_at: this margin keeps an id bound from cutting off an
// entry the created_at bound lets through.
const ID_MARGIN_MS = 60_000;

/**
 * Newest first, keyset-paged by id (ids sort by time), always inside one org. Time bounds apply to
 * `createdAt`, what readers see; an id bound a minute wider lets the (org, id) index skip the rest.
 */
export async function listAuditLog(db: Database, orgId: string, query: AuditQuery) {
  const { since, until } = query;
  const after = idCursor(query.cursor, 'aud');
  const rows = await db
    .select({ entry: auditLog, userEmail: users.email, keyName: apiKeys.name })
    .from(auditLog)
    // The actor's name is read now, not kept in the entry: a former member or a revoked key still has one.
    .leftJoin(users, and(eq(auditLog.actorType, 'user'), eq(users.id, auditLog.actorId)))
    .leftJoin(apiKeys, and(eq(auditLog.actorType, 'api_key'), eq(apiKeys.id, auditLog.actorId)))
    .where(
      and(
        eq(auditLog.orgId, orgId),
        after ? lt(auditLog.id, after) : undefined,
        query.action ? eq(auditLog.action, query.action) : undefined,
        query.actor ? eq(auditLog.actorId, query.actor) : undefined,
        query.target ? eq(auditLog.targetId, query.target) : undefined,
        since ? gte(auditLog.id, idFloorAt(ID_PREFIXES.audit, since.getTime() - ID_MARGIN_MS)) : undefined,
        since ? gte(auditLog.createdAt, since) : undefined,
        until ? lt(auditLog.id, idFloorAt(ID_PREFIXES.audit, until.getTime() + ID_MARGIN_MS)) : undefined,
        until ? lt(auditLog.createdAt, until) : undefined,
      ),
    )
    .orderBy(desc(auditLog.id))
    .limit(query.limit + 1);
  const { items, nextCursor } = splitPage(rows, query.limit, (r) => r.entry.id);
  return {
    items: items.map(({ entry: r, userEmail, keyName }) => ({
      id: r.id,
      actor: { type: r.actorType, id: r.actorId, name: userEmail ?? keyName },
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
