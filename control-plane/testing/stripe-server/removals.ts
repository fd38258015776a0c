import { noSuch, ok, type StripeReply } from './errors.js';
import { asString, type Params } from './form.js';
import { rejectUnknown, type StripeState } from './state.js';

// What an operator does in Stripe's dashboard that Meridian never does itself: deleting a customer, archiving a
// price. Tests use them to make Stripe refuse a subscription for good.

/**
 * DELETE /v1/customers/{id}: the customer is gone (a later reference to it is "No such customer") and, as
 * Stripe does, its subscriptions are cancelled at once; they are still listed with `status=all`.
 */
export function deleteCustomer(state: StripeState, id: string): StripeReply {
  if (!state.customers.delete(id)) return noSuch('customer', id);
  for (const subscription of state.subscriptions.values()) {
    if (subscription.customer !== id || subscription.status === 'canceled') continue;
    Object.assign(subscription, { status: 'canceled', ended_at: state.nowSeconds() });
  }
  return ok({ id, object: 'customer', deleted: true });
}

/** POST /v1/prices/{id}: `active` (archiving a price, or restoring it) and its metadata. */
export function updatePrice(state: StripeState, id: string, params: Params): StripeReply {
  const unknown = rejectUnknown(params, ['active', 'metadata', 'nickname']);
  if (unknown) return unknown;
  const price = state.prices.get(id);
  if (!price) return noSuch('price', id);
  const active = asString(params.active);
  if (active !== undefined) price.active = active === 'true';
  return ok(price);
}
