import { createRoute, z } from '@hono/zod-openapi';
import { ALERT_METRICS, ALERT_STATES } from '../db/schema.js';
import { actorOf } from '../http/guards.js';
import { bearerAuth, errors, jsonBody, jsonContent, newRouter } from '../http/openapi.js';
import {
  createAlertRule,
  deleteAlertRule,
  getAlertRule,
  listAlertEvents,
  listAlertRules,
  updateAlertRule,
} from '../services/monitoring/alert-rules.js';
import { createSilence, deleteSilence, listSilences } from '../services/monitoring/alert-silences.js';
import type { RouteDeps } from './deps.js';
import { DisplayName, FreeText, IdParam } from './schemas.js';

const AlertRule = z
  .object({
    id: z.string(),
    name: z.string(),
    metric: z.enum(ALERT_METRICS),
    deploymentId: z.string().nullable(),
    windowSeconds: z.number(),
    threshold: z.number(),
    forSeconds: z.number(),
    channelIds: z.array(z.string()),
    enabled: z.boolean(),
    state: z.enum(ALERT_STATES),
    activeSince: z.string().nullable(),
    lastValue: z.number().nullable(),
    lastEvaluatedAt: z.string().nullable(),
    createdAt: z.string(),
  })
  .openapi('AlertRule');

const RuleFields = {
  name: DisplayName,
  metric: z.enum(ALERT_METRICS).openapi({
    description:
      'error_rate (0–1, 4xx+5xx over all calls at the edge), p95_latency_ms, ready_replicas (fires below the threshold), lost_agent (workloads on lost agents), spend_usd (billing period so far), quota_used (0–1 of the monthly quota), drift_score',
  }),
  deploymentId: IdParam('dep')
    .nullable()
    .optional()
    .openapi({ description: 'One deployment; absent: all of the org' }),
  windowSeconds: z
    .number()
    .int()
    .min(60)
    .max(31 * 24 * 3600)
    .openapi({ description: 'Seconds of data judged (minute resolution)' }),
  threshold: z.number().min(-1e12).max(1e12),
  forSeconds: z
    .number()
    .int()
    .min(0)
    .max(24 * 3600)
    .optional()
    .openapi({ description: 'Pending this long before firing' }),
  channelIds: z.array(IdParam('nch')).max(20),
  enabled: z.boolean().optional(),
};
const CreateRule = z.strictObject(RuleFields);
const UpdateRule = z
  .strictObject(RuleFields)
  .partial()
  .refine((b) => Object.keys(b).length > 0, `give at least one of ${Object.keys(RuleFields).join(', ')}`);
const Silence = z
  .object({
    id: z.string(),
    ruleId: z.string().nullable(),
    startsAt: z.string(),
    endsAt: z.string(),
    comment: z.string(),
    createdBy: z
      .object({
        type: z.enum(['user', 'api_key']),
        id: z.string(),
        name: z.string().nullable().openapi({ description: "The user's e-mail or the API key's name" }),
      })
      .nullable()
      .openapi({ description: 'Who silenced; null for silences made before it was recorded' }),
  })
  .openapi('AlertSilence');
const CreateSilence = z.strictObject({
  ruleId: IdParam('alr').nullable().optional().openapi({ description: 'Absent: every rule of the org' }),
  endsAt: z.iso.datetime({ offset: true }),
  comment: FreeText(500).optional(),
});
const RuleParams = z.object({ id: IdParam('alr').openapi({ param: { name: 'id', in: 'path' } }) });
const SilenceParams = z.object({ id: IdParam('als').openapi({ param: { name: 'id', in: 'path' } }) });
const AlertEvent = z.object({
  id: z.string(),
  kind: z.enum(['firing', 'resolved']),
  value: z.number().nullable(),
  silenced: z.boolean(),
  at: z.string(),
});

/** Alert rules of the org and their silences. */
export function alertRoutes(deps: RouteDeps) {
  const common = { security: bearerAuth, middleware: deps.requireAuth, tags: ['alerts'] };
  const route = <T extends Parameters<typeof createRoute>[0]>(r: T) => createRoute({ ...common, ...r });
  const create = route({
    method: 'post',
    path: '/v1/alert-rules',
    operationId: 'createAlertRule',
    summary: 'Create an alert rule',
    request: jsonBody(CreateRule),
    responses: { 201: jsonContent(AlertRule, 'Created'), ...errors(401, 403, 404) },
  });
  const list = route({
    method: 'get',
    path: '/v1/alert-rules',
    operationId: 'listAlertRules',
    summary: 'Alert rules of the organisation with their state',
    responses: { 200: jsonContent(z.object({ items: z.array(AlertRule) }), 'Rules'), ...errors(401, 403) },
  });
  const get = route({
    method: 'get',
    path: '/v1/alert-rules/{id}',
    operationId: 'getAlertRule',
    summary: 'One alert rule',
    request: { params: RuleParams },
    responses: { 200: jsonContent(AlertRule, 'The rule'), ...errors(401, 403, 404) },
  });
  const update = route({
    method: 'patch',
    path: '/v1/alert-rules/{id}',
    operationId: 'updateAlertRule',
    summary: 'Change an alert rule; a changed condition starts it over',
    request: { params: RuleParams, ...jsonBody(UpdateRule) },
    responses: { 200: jsonContent(AlertRule, 'Changed'), ...errors(401, 403, 404) },
  });
  const remove = route({
    method: 'delete',
    path: '/v1/alert-rules/{id}',
    operationId: 'deleteAlertRule',
    summary: 'Delete an alert rule',
    request: { params: RuleParams },
    responses: { 204: { description: 'Deleted' }, ...errors(401, 403, 404) },
  });
  const events = route({
    method: 'get',
    path: '/v1/alert-rules/{id}/events',
    operationId: 'listAlertEvents',
    summary: 'What a rule notified (firing, resolved), newest first',
    request: { params: RuleParams },
    responses: {
      200: jsonContent(z.object({ items: z.array(AlertEvent) }), 'Events'),
      ...errors(401, 403, 404),
    },
  });
  const silence = route({
    method: 'post',
    path: '/v1/alert-silences',
    operationId: 'createAlertSilence',
    summary: 'Silence one rule or all of them until a time',
    request: jsonBody(CreateSilence),
    responses: { 201: jsonContent(Silence, 'Created'), ...errors(401, 403, 404) },
  });
  const silences = route({
    method: 'get',
    path: '/v1/alert-silences',
    operationId: 'listAlertSilences',
    summary: 'Silences in force',
    responses: { 200: jsonContent(z.object({ items: z.array(Silence) }), 'Silences'), ...errors(401, 403) },
  });
  const unsilence = route({
    method: 'delete',
    path: '/v1/alert-silences/{id}',
    operationId: 'deleteAlertSilence',
    summary: 'End a silence now',
    request: { params: SilenceParams },
    responses: { 204: { description: 'Ended' }, ...errors(401, 403, 404) },
  });
  return newRouter()
    .openapi(create, async (c) =>
      c.json(await createAlertRule(deps.db, actorOf(c), c.req.valid('json')), 201),
    )
    .openapi(list, async (c) => c.json(await listAlertRules(deps.db, actorOf(c)), 200))
    .openapi(get, async (c) => c.json(await getAlertRule(deps.db, actorOf(c), c.req.valid('param').id), 200))
    .openapi(update, async (c) =>
      c.json(await updateAlertRule(deps.db, actorOf(c), c.req.valid('param').id, c.req.valid('json')), 200),
    )
    .openapi(remove, async (c) => {
      await deleteAlertRule(deps.db, actorOf(c), c.req.valid('param').id);
      return c.body(null, 204);
    })
    .openapi(events, async (c) =>
      c.json(await listAlertEvents(deps.db, actorOf(c), c.req.valid('param').id), 200),
    )
    .openapi(silence, async (c) => c.json(await createSilence(deps.db, actorOf(c), c.req.valid('json')), 201))
    .openapi(silences, async (c) => c.json(await listSilences(deps.db, actorOf(c)), 200))
    .openapi(unsilence, async (c) => {
      await deleteSilence(deps.db, actorOf(c), c.req.valid('param').id);
      return c.body(null, 204);
    });
}
