import { newId } from '@meridian/protocol';
import type { Actor } from '../../auth/principal.js';
import type { Database } from '../../db/client.js';
import { auditLog } from '../../db/schema.js';

/** A transaction or the database itself: audit rows are written in the same transaction as the change. */
export type Writer = Pick<Database, 'insert'>;

export interface AuditEntry {
  orgId: string;
  action: string;
  targetType: string;
  targetId: string;
  metadata?: Record<string, unknown>;
}

/** Records who did what to which resource, from where, under which request id. */
export async function recordAudit(db: Writer, actor: Actor, entry: AuditEntry): Promise<void> {
  const { principal } = actor;
  await db.insert(auditLog).values({
    id: newId('audit'),
    orgId: entry.orgId,
    actorType: principal.type,
    actorId: principal.type === 'user' ? principal.userId : principal.keyId,
    action: entry.action,
    targetType: entry.targetType,
    targetId: entry.targetId,
    requestId: actor.requestId,
    clientIp: actor.clientIp,
    metadata: entry.metadata ?? null,
  });
}
