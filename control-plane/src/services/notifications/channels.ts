import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { newId } from '@meridian/protocol';
import { and, desc, eq, inArray } from 'drizzle-orm';
import { requirePermission } from '../../auth/permissions.js';
import type { Actor } from '../../auth/principal.js';
import type { Database } from '../../db/client.js';
import { notificationAttempts, notificationChannels, notificationDeliveries } from '../../db/schema.js';
import { invalidField, notFound } from '../../errors.js';
import { recordAudit } from '../audit/record.js';
import { hostOf, isForbiddenAddress } from './address-policy.js';

export interface ChannelInput {
  name: string;
  kind: 'webhook' | 'email';
  /** Webhook URL or e-mail address. */
  target: string;
}

type Channel = typeof notificationChannels.$inferSelect;

/** One address, no display name or list: what a mail header may carry safely. */
const EMAIL = /^[^\s@<>,;"]+@[^\s@<>,;"]+\.[^\s@<>,;"]+$/;

function present(c: Channel) {
  return { id: c.id, name: c.name, kind: c.kind, target: c.target, createdAt: c.createdAt.toISOString() };
}

/**
 * Refuses a webhook URL that is not http(s) or points at a refused address (literally, or by what its name
 * resolves to now). This is a courtesy at creation: every delivery checks the address it connects to again.
 */
async function checkWebhookTarget(target: string, allowPrivate: boolean): Promise<void> {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw invalidField('target', 'not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw invalidField('target', 'must be an http or https URL');
  if (url.username || url.password) throw invalidField('target', 'must not carry credentials');
  if (allowPrivate) return;
  const host = hostOf(url);
  const addresses = isIP(host)
    ? [host]
    : await lookup(host, { all: true }).then(
        (found) => found.map((a) => a.address),
        () => [] as string[],
      );
  if (addresses.some(isForbiddenAddress)) {
    throw invalidField(
      'target',
      'points at a loopback, private or link-local address, which webhooks may not reach',
    );
  }
}

export async function createChannel(db: Database, actor: Actor, input: ChannelInput, allowPrivate: boolean) {
  requirePermission(actor.principal, 'deployments:write');
  const orgId = actor.principal.orgId;
  if (input.kind === 'webhook') await checkWebhookTarget(input.target, allowPrivate);
  else if (!EMAIL.test(input.target) || input.target.length > 254)
    throw invalidField('target', 'not an e-mail address');
  const id = newId('notificationChannel');
  const secret = input.kind === 'webhook' ? `whsec_${randomBytes(24).toString('base64url')}` : '';
  const [row] = await db.transaction(async (tx) => {
    const inserted = await tx
      .insert(notificationChannels)
      .values({ id, orgId, name: input.name, kind: input.kind, target: input.target, secret })
      .returning();
    await recordAudit(tx, actor, {
      orgId,
      action: 'notification_channel.create',
      targetType: 'notification_channel',
      targetId: id,
      metadata: { name: input.name },
    });
    return inserted;
  });
  if (!row) throw new Error('channel insert returned nothing');
  // The signing secret is shown once, as API keys are.
  return { ...present(row), ...(secret ? { secret } : {}) };
}

export async function listChannels(db: Database, actor: Actor) {
  requirePermission(actor.principal, 'deployments:read');
  const rows = await db
    .select()
    .from(notificationChannels)
    .where(eq(notificationChannels.orgId, actor.principal.orgId))
    .orderBy(notificationChannels.id)
    .limit(500);
  return { items: rows.map(present) };
}

export async function findChannel(db: Database, orgId: string, id: string): Promise<Channel> {
  const [row] = await db
    .select()
    .from(notificationChannels)
    .where(and(eq(notificationChannels.id, id), eq(notificationChannels.orgId, orgId)));
  if (!row) throw notFound('Notification channel');
  return row;
}

export async function deleteChannel(db: Database, actor: Actor, id: string): Promise<void> {
  requirePermission(actor.principal, 'deployments:write');
  const orgId = actor.principal.orgId;
  const channel = await findChannel(db, orgId, id);
  await db.transaction(async (tx) => {
    await tx
      .delete(notificationChannels)
      .where(and(eq(notificationChannels.id, id), eq(notificationChannels.orgId, orgId)));
    await recordAudit(tx, actor, {
      orgId,
      action: 'notification_channel.delete',
      targetType: 'notification_channel',
      targetId: id,
      metadata: { name: channel.name },
    });
  });
}

/** A channel's latest deliveries with every attempt (the delivery log), newest first. */
export async function listDeliveries(db: Database, actor: Actor, channelId: string) {
  requirePermission(actor.principal, 'deployments:read');
  await findChannel(db, actor.principal.orgId, channelId);
  const deliveries = await db
    .select()
    .from(notificationDeliveries)
    .where(
      and(
        eq(notificationDeliveries.channelId, channelId),
        eq(notificationDeliveries.orgId, actor.principal.orgId),
      ),
    )
    .orderBy(desc(notificationDeliveries.createdAt))
    .limit(100);
  const attempts =
    deliveries.length === 0
      ? []
      : await db
          .select()
          .from(notificationAttempts)
          .where(
            inArray(
              notificationAttempts.deliveryId,
              deliveries.map((d) => d.id),
            ),
          )
          .orderBy(notificationAttempts.attempt);
  return {
    items: deliveries.map((d) => ({
      id: d.id,
      eventId: d.eventId,
      status: d.status,
      attempts: attempts
        .filter((a) => a.deliveryId === d.id)
        .map((a) => ({
          attempt: a.attempt,
          at: a.at.toISOString(),
          ok: a.ok,
          httpStatus: a.httpStatus,
          error: a.error,
          durationMs: a.durationMs,
        })),
      createdAt: d.createdAt.toISOString(),
    })),
  };
}

/** Queues one notification per channel (in the caller's transaction), to be sent by the dispatcher. */
export async function enqueueDeliveries(
  tx: Pick<Database, 'insert'>,
  orgId: string,
  channelIds: readonly string[],
  eventId: string | null,
  payload: unknown,
  now = Date.now(),
): Promise<string[]> {
  const ids: string[] = [];
  for (const channelId of channelIds) {
    const id = newId('notificationDelivery');
    ids.push(id);
    await tx.insert(notificationDeliveries).values({
      id,
      orgId,
      channelId,
      eventId,
      payload: JSON.stringify(payload),
      status: 'pending',
      nextAttemptAt: new Date(now),
    });
  }
  return ids;
}
