import { newId } from '@meridian/protocol';
import type { Actor } from '../../auth/principal.js';
import type { Database } from '../../db/client.js';
import { auditLog } from '../../db/schema.js';

/** A transaction or the database itself: audit rows are written in the same transaction as the change. */
export type Writer = Pick<Database, 'insert'>;

/**
 * Every action the audit log records. Recording takes only these (the typecheck holds the list complete), so
 * a filter naming any other finds nothing ever and is refused instead.
 */
export const AUDIT_ACTIONS = [
  'alert_rule.create',
  'alert_rule.delete',
  'alert_rule.update',
  'alert_silence.create',
  'alert_silence.delete',
  'api_key.cap',
  'api_key.create',
  'api_key.revoke',
  'api_key.transfer',
  'artifact.delete',
  'artifact.upload',
  'batch_job.cancel',
  'batch_job.create',
  'billing.plan_change',
  'billing.subscription_retry',
  'deployment.create',
  'deployment.delete',
  'deployment.update',
  'experiment.create',
  'experiment.delete',
  'experiment.update',
  'file.delete',
  'file.upload',
  'image.allow',
  'image.disallow',
  'invitation.accept',
  'invitation.create',
  'invitation.decline',
  'invitation.revoke',
  'member.remove',
  'member.role_change',
  'model.create',
  'model.delete',
  'model.update',
  'model_alias.delete',
  'model_alias.set',
  'model_version.create',
  'model_version.delete',
  'model_version.update',
  'model_version.upload_start',
  'notebook.create',
  'notebook.delete',
  'notebook.start',
  'notebook.stop',
  'notification_channel.create',
  'notification_channel.delete',
  'org.create',
  'org.update',
  'run.create',
  'run.delete',
  'run.log_batch',
  'run.log_metrics',
  'run.log_params',
  'run.set_tags',
  'run.update',
  'user.password_change',
  'user.register',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export const isAuditAction = (action: string): action is AuditAction =>
  (AUDIT_ACTIONS as readonly string[]).includes(action);

export interface AuditEntry {
  orgId: string;
  action: AuditAction;
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
