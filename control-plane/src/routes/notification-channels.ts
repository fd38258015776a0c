import { createRoute, z } from '@hono/zod-openapi';
import { actorOf } from '../http/guards.js';
import { bearerAuth, errors, jsonBody, jsonContent, newRouter } from '../http/openapi.js';
import {
  createChannel,
  deleteChannel,
  listChannels,
  listDeliveries,
} from '../services/notifications/channels.js';
import type { DispatchSettings } from '../services/notifications/dispatcher.js';
import { sendTestNotification } from '../services/notifications/test-delivery.js';
import type { RouteDeps } from './deps.js';
import { DisplayName, hasNoNul, IdParam, NO_NUL } from './schemas.js';

const Channel = z
  .object({
    id: z.string(),
    name: z.string(),
    kind: z.enum(['webhook', 'email']),
    target: z.string(),
    createdAt: z.string(),
  })
  .openapi('NotificationChannel');
const CreateChannel = z.strictObject({
  name: DisplayName,
  kind: z.enum(['webhook', 'email']),
  target: z
    .string()
    .min(3)
    .max(2048)
    .refine(hasNoNul, NO_NUL)
    .openapi({ description: 'webhook: an http(s) URL on a public address; email: an address' }),
});
const Attempt = z.object({
  attempt: z.number(),
  at: z.string(),
  ok: z.boolean(),
  httpStatus: z.number().nullable(),
  error: z.string().nullable(),
  durationMs: z.number(),
});
const Delivery = z
  .object({
    id: z.string(),
    eventId: z.string().nullable(),
    status: z.enum(['pending', 'delivered', 'failed']),
    attempts: z.array(Attempt),
    createdAt: z.string(),
  })
  .openapi('NotificationDelivery');
const Params = z.object({ id: IdParam('nch').openapi({ param: { name: 'id', in: 'path' } }) });

/** Where alerts go: signed webhooks and e-mail, with a test delivery and the delivery log. */
export function notificationChannelRoutes({ dispatch, ...deps }: RouteDeps & { dispatch: DispatchSettings }) {
  const common = { security: bearerAuth, middleware: deps.requireAuth, tags: ['alerts'] };
  const create = createRoute({
    ...common,
    method: 'post',
    path: '/v1/notification-channels',
    operationId: 'createNotificationChannel',
    summary: 'Create a webhook or e-mail channel; a webhook signing secret is in this response only',
    request: jsonBody(CreateChannel),
    responses: {
      201: jsonContent(Channel.extend({ secret: z.string().optional() }), 'Created'),
      ...errors(401, 403),
    },
  });
  const list = createRoute({
    ...common,
    method: 'get',
    path: '/v1/notification-channels',
    operationId: 'listNotificationChannels',
    summary: 'Notification channels of the organisation',
    responses: { 200: jsonContent(z.object({ items: z.array(Channel) }), 'Channels'), ...errors(401, 403) },
  });
  const remove = createRoute({
    ...common,
    method: 'delete',
    path: '/v1/notification-channels/{id}',
    operationId: 'deleteNotificationChannel',
    summary: 'Delete a channel',
    request: { params: Params },
    responses: { 204: { description: 'Deleted' }, ...errors(401, 403, 404) },
  });
  const deliveries = createRoute({
    ...common,
    method: 'get',
    path: '/v1/notification-channels/{id}/deliveries',
    operationId: 'listNotificationDeliveries',
    summary: 'The delivery log: recent deliveries with the status of every attempt',
    request: { params: Params },
    responses: {
      200: jsonContent(z.object({ items: z.array(Delivery) }), 'Deliveries'),
      ...errors(401, 403, 404),
    },
  });
  const test = createRoute({
    ...common,
    method: 'post',
    path: '/v1/notification-channels/{id}/test',
    operationId: 'testNotificationChannel',
    summary: 'Send a test notification now; a failed one is retried like any other',
    request: { params: Params },
    responses: {
      200: jsonContent(
        z.object({
          deliveryId: z.string(),
          ok: z.boolean(),
          httpStatus: z.number().nullable(),
          error: z.string().nullable(),
        }),
        'The first attempt',
      ),
      ...errors(401, 403, 404),
    },
  });
  return newRouter()
    .openapi(create, async (c) =>
      c.json(await createChannel(deps.db, actorOf(c), c.req.valid('json'), dispatch.allowPrivate), 201),
    )
    .openapi(list, async (c) => c.json(await listChannels(deps.db, actorOf(c)), 200))
    .openapi(remove, async (c) => {
      await deleteChannel(deps.db, actorOf(c), c.req.valid('param').id);
      return c.body(null, 204);
    })
    .openapi(deliveries, async (c) =>
      c.json(await listDeliveries(deps.db, actorOf(c), c.req.valid('param').id), 200),
    )
    .openapi(test, async (c) =>
      c.json(await sendTestNotification(deps.db, actorOf(c), c.req.valid('param').id, dispatch), 200),
    );
}
