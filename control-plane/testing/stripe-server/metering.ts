import { invalidParam, missingParam, noSuch, ok, type StripeReply, stripeError } from './errors.js';
import { asParams, asString, asStringMap, type Params } from './form.js';
import {
  type AcceptedMeterEvent,
  listOf,
  newId,
  rejectUnknown,
  type StripeObject,
  type StripeState,
} from './state.js';

// Billing meters, meter events and meter event summaries, with the rules Stripe documents: identifiers are
// unique (a repeat is rejected), timestamps lie within the past 35 days and at most 5 minutes ahead, values are
// whole numbers, and events that cannot be attributed are accepted but never counted (Stripe reports them
// asynchronously as meter errors).

const DAY = 86_400;

export function createMeter(state: StripeState, params: Params): StripeReply {
  const unknown = rejectUnknown(params, [
    'display_name',
    'event_name',
    'default_aggregation',
    'customer_mapping',
    'value_settings',
    'event_time_window',
  ]);
  if (unknown) return unknown;
  const displayName = asString(params.display_name);
  const eventName = asString(params.event_name);
  const formula = asString(asParams(params.default_aggregation)?.formula);
  if (!displayName) return missingParam('display_name');
  if (!eventName) return missingParam('event_name');
  if (!formula) return missingParam('default_aggregation[formula]');
  if (!['sum', 'count', 'last'].includes(formula)) {
    return invalidParam('default_aggregation[formula]', 'Invalid formula: must be one of sum, count, last');
  }
  if ([...state.meters.values()].some((m) => m.event_name === eventName && m.status === 'active')) {
    return invalidParam('event_name', `An active meter with event_name \`${eventName}\` already exists.`);
  }
  const mapping = asParams(params.customer_mapping);
  const now = state.nowSeconds();
  const meter: StripeObject = {
    id: newId('mtr'),
    object: 'billing.meter',
    created: now,
    updated: now,
    customer_mapping: {
      event_payload_key: asString(mapping?.event_payload_key) ?? 'stripe_customer_id',
      type: asString(mapping?.type) ?? 'by_id',
    },
    default_aggregation: { formula },
    display_name: displayName,
    event_name: eventName,
    event_time_window: asString(params.event_time_window) ?? null,
    livemode: false,
    status: 'active',
    status_transitions: { deactivated_at: null },
    value_settings: {
      event_payload_key: asString(asParams(params.value_settings)?.event_payload_key) ?? 'value',
    },
  };
  state.meters.set(meter.id, meter);
  return ok(meter);
}

export function listMeters(state: StripeState, query: Params): StripeReply {
  const status = asString(query.status);
  const meters = [...state.meters.values()].filter((m) => status === undefined || m.status === status);
  return listOf(meters, query, '/v1/billing/meters');
}

const meterFor = (state: StripeState, eventName: string) =>
  [...state.meters.values()].find((m) => m.event_name === eventName && m.status === 'active');

const payloadKeys = (meter: StripeObject) => ({
  customer: (meter.customer_mapping as { event_payload_key: string }).event_payload_key,
  value: (meter.value_settings as { event_payload_key: string }).event_payload_key,
});

/** Why Stripe would not count an accepted event, or undefined when it counts. */
function attributionError(state: StripeState, eventName: string, payload: Record<string, string>) {
  const meter = meterFor(state, eventName);
  if (!meter) return 'no active meter has this event_name';
  const keys = payloadKeys(meter);
  const customer = payload[keys.customer];
  if (!customer || !state.customers.has(customer)) return `no customer '${customer ?? ''}'`;
  if (!/^-?\d+$/.test(payload[keys.value] ?? '')) return 'value is not a whole number';
  return undefined;
}

/** The payload key that names the customer, for the server's per-customer-per-meter lock. */
export function meterEventLockKey(state: StripeState, params: Params): string | undefined {
  const eventName = asString(params.event_name);
  if (!eventName) return undefined;
  const meter = meterFor(state, eventName);
  const key = meter ? payloadKeys(meter).customer : 'stripe_customer_id';
  return `${asStringMap(params.payload)[key] ?? ''}|${eventName}`;
}

export function createMeterEvent(state: StripeState, params: Params, requestId: string): StripeReply {
  const unknown = rejectUnknown(params, ['event_name', 'payload', 'identifier', 'timestamp']);
  if (unknown) return unknown;
  const eventName = asString(params.event_name);
  if (!eventName) return missingParam('event_name');
  if (!asParams(params.payload)) return missingParam('payload');
  const payload = asStringMap(params.payload);
  const now = state.nowSeconds();
  const rawTimestamp = asString(params.timestamp);
  if (rawTimestamp !== undefined && !/^\d+$/.test(rawTimestamp)) {
    return invalidParam('timestamp', 'Invalid integer: timestamp');
  }
  const timestamp = rawTimestamp === undefined ? now : Number(rawTimestamp);
  if (timestamp < now - 35 * DAY || timestamp > now + 300) {
    return invalidParam(
      'timestamp',
      'Timestamp must be within the past 35 calendar days and no more than 5 minutes in the future.',
    );
  }
  const identifier = asString(params.identifier) ?? newId('mev');
  if (identifier.length > 100) return invalidParam('identifier', 'identifier is longer than 100 characters.');
  if (state.identifiers.has(identifier)) {
    return stripeError(
      400,
      'invalid_request_error',
      `An event already exists with identifier ${identifier}.`,
      {
        param: 'identifier',
        shouldRetry: false,
      },
    );
  }
  const meter = meterFor(state, eventName);
  const event: AcceptedMeterEvent = {
    identifier,
    eventName,
    customer: payload[meter ? payloadKeys(meter).customer : 'stripe_customer_id'],
    value: payload[meter ? payloadKeys(meter).value : 'value'] ?? '',
    timestamp,
    created: now,
    requestId,
  };
  state.meterEvents.push(event);
  state.identifiers.set(identifier, event);
  const error = attributionError(state, eventName, payload);
  if (error) state.meterErrors.push({ identifier, eventName, reason: error });
  return ok({
    object: 'billing.meter_event',
    created: now,
    event_name: eventName,
    identifier,
    livemode: false,
    payload,
    timestamp,
  });
}

/** The counted events of one meter and customer with timestamps in [start, end). */
export function countedEvents(
  state: StripeState,
  meter: StripeObject,
  customer: string,
  start: number,
  end: number,
) {
  const failed = new Set(state.meterErrors.map((e) => e.identifier));
  return state.meterEvents.filter(
    (e) =>
      e.eventName === meter.event_name &&
      e.customer === customer &&
      e.timestamp >= start &&
      e.timestamp < end &&
      !failed.has(e.identifier),
  );
}

function aggregate(formula: string, events: AcceptedMeterEvent[]): number {
  if (formula === 'count') return events.length;
  if (formula === 'last') {
    const last = [...events].sort((a, b) => a.timestamp - b.timestamp).at(-1);
    return last ? Number(last.value) : 0;
  }
  return events.reduce((sum, e) => sum + Number(e.value), 0);
}

export function listEventSummaries(state: StripeState, meterId: string, query: Params): StripeReply {
  const meter = state.meters.get(meterId);
  if (!meter) return noSuch('billing meter', meterId);
  const customer = asString(query.customer);
  if (!customer) return missingParam('customer');
  const start = Number(asString(query.start_time));
  const end = Number(asString(query.end_time));
  if (asString(query.start_time) === undefined) return missingParam('start_time');
  if (asString(query.end_time) === undefined) return missingParam('end_time');
  const grouping = asString(query.value_grouping_window);
  const step = grouping === 'hour' ? 3600 : grouping === 'day' ? DAY : undefined;
  const align = step ?? 60;
  if (!Number.isInteger(start) || start % align !== 0) {
    return invalidParam(
      'start_time',
      `start_time must be aligned with ${step ? grouping : 'minute'} boundaries.`,
    );
  }
  if (!Number.isInteger(end) || end % align !== 0 || end <= start) {
    return invalidParam(
      'end_time',
      `end_time must be after start_time and aligned with ${step ? grouping : 'minute'} boundaries.`,
    );
  }
  const formula = (meter.default_aggregation as { formula: string }).formula;
  const periods: [number, number][] = [];
  for (let t = start; t < end; t += step ?? end - start)
    periods.push([t, Math.min(end, t + (step ?? end - start))]);
  const summaries = periods.reverse().map(([from, to]) => ({
    id: newId('mtrusum'),
    object: 'billing.meter_event_summary',
    aggregated_value: aggregate(formula, countedEvents(state, meter, customer, from, to)),
    start_time: from,
    end_time: to,
    livemode: false,
    meter: meterId,
  }));
  return listOf(summaries, query, `/v1/billing/meters/${meterId}/event_summaries`);
}

/**
 * The usage Stripe's invoice at the end of a subscription's current period bills: per metered item, its meter's
 * aggregate of the customer's counted events stamped within the item's period, keyed by the meter's event name.
 */
export function currentPeriodUsage(state: StripeState, subscriptionId: string): Record<string, number> {
  const subscription = state.subscriptions.get(subscriptionId);
  if (!subscription) throw new Error(`no subscription ${subscriptionId}`);
  const usage: Record<string, number> = {};
  for (const item of (subscription.items as { data: StripeObject[] }).data) {
    const recurring = (item.price as StripeObject).recurring as { meter?: string | null } | null;
    const meter = recurring?.meter ? state.meters.get(recurring.meter) : undefined;
    if (!meter) continue;
    const events = countedEvents(
      state,
      meter,
      String(subscription.customer),
      Number(item.current_period_start),
      Number(item.current_period_end),
    );
    const formula = (meter.default_aggregation as { formula: string }).formula;
    usage[String(meter.event_name)] = aggregate(formula, events);
  }
  return usage;
}
