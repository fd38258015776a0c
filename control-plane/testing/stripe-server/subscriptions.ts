import { invalidParam, missingParam, noSuch, ok, type StripeReply, stripeError } from './errors.js';
import { asList, asParams, asString, asStringMap, type Params } from './form.js';
import { listOf, newId, rejectUnknown, type StripeObject, type StripeState } from './state.js';

// Changing a subscription's items, as POST /v1/subscriptions/{id} does: add an item (a price), swap an item's
// price (its id stays), delete an item; with proration_behavior deciding whether licensed changes are charged
// or credited for the rest of the period, recorded as proration invoice items the next invoice would carry.

const PRORATIONS = ['create_prorations', 'none', 'always_invoice'];

const priceOf = (item: StripeObject) => item.price as StripeObject;
const isMetered = (price: StripeObject) =>
  (price.recurring as { usage_type?: string } | null)?.usage_type === 'metered';

/** A month after `seconds` (Stripe's next natural billing date for a monthly price), in seconds. */
export function addMonth(seconds: number): number {
  const at = new Date(seconds * 1000);
  return Math.floor(at.setUTCMonth(at.getUTCMonth() + 1) / 1000);
}

/** The current period of a subscription's items, or a month from now when it has none yet. */
function currentPeriod(state: StripeState, subscription: string) {
  const items = (state.subscriptions.get(subscription)?.items as { data: StripeObject[] } | undefined)?.data;
  const first = items?.[0];
  if (first) return { start: Number(first.current_period_start), end: Number(first.current_period_end) };
  const start = state.nowSeconds();
  return { start, end: addMonth(start) };
}

/** A subscription item on `price`, its period the subscription's current one (or `period`, for a new one). */
export function newItem(
  state: StripeState,
  subscription: string,
  price: StripeObject,
  quantity?: number,
  period: { start: number; end: number } = currentPeriod(state, subscription),
) {
  const { start, end } = period;
  return {
    id: newId('si'),
    object: 'subscription_item',
    price,
    quantity: isMetered(price) ? undefined : (quantity ?? 1),
    subscription,
    created: start,
    current_period_start: start,
    current_period_end: end,
    metadata: {},
  } as StripeObject;
}

/** What a licensed item costs or returns for the rest of its period, in cents (Stripe prorates by the second). */
function prorated(
  state: StripeState,
  item: StripeObject,
  sign: 1 | -1,
  customer: string,
  subscription: string,
) {
  const price = priceOf(item);
  if (isMetered(price)) return;
  const start = Number(item.current_period_start);
  const end = Number(item.current_period_end);
  const left = Math.max(0, end - state.nowSeconds()) / Math.max(1, end - start);
  const amount =
    sign * Math.round(Number(price.unit_amount_decimal ?? 0) * Number(item.quantity ?? 1) * left);
  state.invoiceItems.push({
    id: newId('ii'),
    object: 'invoiceitem',
    customer,
    subscription,
    price: price.id,
    amount,
    proration: true,
    description: `${sign < 0 ? 'Unused' : 'Remaining'} time on ${price.id}`,
  });
}

/** POST /v1/subscriptions/{id}: the item changes and proration; other fields Meridian does not send are refused. */
export function updateSubscription(
  state: StripeState,
  id: string,
  params: Params,
  requestId: string,
): StripeReply {
  const unknown = rejectUnknown(params, ['items', 'proration_behavior', 'metadata', 'description']);
  if (unknown) return unknown;
  const subscription = state.subscriptions.get(id);
  if (!subscription) return noSuch('subscription', id);
  if (subscription.status === 'canceled') {
    return stripeError(400, 'invalid_request_error', `A canceled subscription can only update its metadata.`);
  }
  const proration = asString(params.proration_behavior) ?? 'create_prorations';
  if (!PRORATIONS.includes(proration)) {
    return invalidParam(
      'proration_behavior',
      `Invalid proration_behavior: must be one of ${PRORATIONS.join(', ')}`,
    );
  }
  const list = subscription.items as { data: StripeObject[] };
  const items = [...list.data];
  const deleted: { item: StripeObject; clearUsage: boolean }[] = [];
  const charges: [StripeObject, 1 | -1][] = [];
  for (const [i, raw] of (asList(params.items) ?? []).entries()) {
    const change = asParams(raw) ?? {};
    const itemId = asString(change.id);
    const priceId = asString(change.price);
    const price = priceId ? state.prices.get(priceId) : undefined;
    if (priceId && !price) return noSuch('price', priceId, `items[${i}][price]`);
    const at = itemId ? items.findIndex((item) => item.id === itemId) : -1;
    const existing = items[at];
    if (itemId && !existing) return noSuch('subscription item', itemId, `items[${i}][id]`);
    if (existing && asString(change.deleted) === 'true') {
      items.splice(at, 1);
      deleted.push({ item: existing, clearUsage: asString(change.clear_usage) === 'true' });
      charges.push([existing, -1]);
      continue;
    }
    if (!price) return missingParam(`items[${i}][price]`);
    if (items.some((item) => item !== existing && priceOf(item).id === price.id)) {
      return invalidParam(
        `items[${i}][price]`,
        'Cannot add multiple subscription items with the same price.',
      );
    }
    if (existing) {
      const swapped = { ...existing, price };
      items[at] = swapped;
      charges.push([existing, -1], [swapped, 1]);
    } else {
      const added = newItem(state, id, price);
      items.push(added);
      charges.push([added, 1]);
    }
  }
  // Checked, then applied: a refused request changes nothing.
  list.data = items;
  if (params.metadata)
    subscription.metadata = { ...(subscription.metadata as object), ...asStringMap(params.metadata) };
  const customer = String(subscription.customer);
  if (proration !== 'none') for (const [item, sign] of charges) prorated(state, item, sign, customer, id);
  for (const d of deleted) state.deletedItems.push({ ...d, subscription: id });
  state.subscriptionUpdates.push({ subscription: id, requestId, prorationBehavior: proration });
  return ok(subscription);
}

/** GET /v1/subscription_items?subscription=…: one subscription's items. */
export function listSubscriptionItems(state: StripeState, query: Params): StripeReply {
  const id = asString(query.subscription);
  if (!id) return missingParam('subscription');
  const subscription = state.subscriptions.get(id);
  if (!subscription) return noSuch('subscription', id, 'subscription');
  return listOf((subscription.items as { data: StripeObject[] }).data, query, '/v1/subscription_items');
}

const STATUSES = [
  'active',
  'past_due',
  'unpaid',
  'canceled',
  'incomplete',
  'incomplete_expired',
  'trialing',
  'paused',
];

/** Whether a subscription's status passes list's `status` filter: absent, every one not canceled. */
function statusMatches(status: unknown, filter: string | undefined): boolean {
  if (filter === undefined) return status !== 'canceled';
  if (filter === 'all') return true;
  if (filter === 'ended') return status === 'canceled' || status === 'incomplete_expired';
  return status === filter;
}

/**
 * GET /v1/subscriptions: a customer's (or every) subscription, newest first, read from the state as it is
 * now. Stripe's list endpoints are not subject to search's indexing delay, so this answers what was just
 * created; `status` filters as Stripe's does (by default the canceled ones are left out, `all` keeps them).
 */
export function listSubscriptions(state: StripeState, query: Params): StripeReply {
  const unknown = rejectUnknown(query, ['customer', 'status', 'limit', 'starting_after']);
  if (unknown) return unknown;
  const status = asString(query.status);
  if (status !== undefined && !['all', 'ended', ...STATUSES].includes(status)) {
    return invalidParam('status', `Invalid status: must be one of all, ended, ${STATUSES.join(', ')}`);
  }
  const customer = asString(query.customer);
  const found = [...state.subscriptions.values()]
    .filter((s) => (customer === undefined || s.customer === customer) && statusMatches(s.status, status))
    .reverse();
  return listOf(found, query, '/v1/subscriptions');
}
