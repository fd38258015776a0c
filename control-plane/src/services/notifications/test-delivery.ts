import { newId } from '@meridian/protocol';
import { eq } from 'drizzle-orm';
import { requirePermission } from '../../auth/permissions.js';
import type { Actor } from '../../auth/principal.js';
import type { Database } from '../../db/client.js';
import { notificationDeliveries } from '../../db/schema.js';
import { enqueueDeliveries, findChannel } from './channels.js';
import { attemptDelivery, type DispatchSettings } from './dispatcher.js';

/** Queues a test notification to a channel and makes its first attempt now; a failure is retried as usual. */
export async function sendTestNotification(
  db: Database,
  actor: Actor,
  channelId: string,
  dispatch: DispatchSettings,
) {
  requirePermission(actor.principal, 'deployments:write');
  const channel = await findChannel(db, actor.principal.orgId, channelId);
  const payload = { type: 'test', eventId: newId('alertEvent'), at: new Date().toISOString() };
  const [id] = await enqueueDeliveries(db, channel.orgId, [channel.id], null, payload);
  const [delivery] = await db
    .select()
    .from(notificationDeliveries)
    .where(eq(notificationDeliveries.id, id ?? ''));
  if (!delivery) throw new Error('test delivery vanished');
  const result = await attemptDelivery(db, delivery, dispatch);
  return { deliveryId: delivery.id, ...result };
}
