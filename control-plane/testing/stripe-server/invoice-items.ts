import { invalidParam, missingParam, noSuch, ok, type StripeReply, stripeError } from './errors.js';
import { asParams, asString, asStringMap, type Params } from './form.js';
import { listOf, newId, rejectUnknown, type StripeState } from './state.js';

// Invoice items a caller adds, as POST /v1/invoiceitems does: a one-off amount for the customer's next invoice,
// or, with `subscription`, for that subscription's next invoice. Only the parameters Meridian sends are taken.

const whole = (raw: string | undefined) =>
  raw !== undefined && /^-?\d+$/.test(raw) ? Number(raw) : undefined;

/** POST /v1/invoiceitems: `customer`, `amount` (cents) with `currency`, `description`, `subscription`, `period`, `metadata`. */
export function createInvoiceItem(state: StripeState, params: Params): StripeReply {
  const unknown = rejectUnknown(params, [
    'customer',
    'amount',
    'currency',
    'description',
    'subscription',
    'period',
    'metadata',
  ]);
  if (unknown) return unknown;
  const customer = asString(params.customer);
  if (!customer) return missingParam('customer');
  if (!state.customers.has(customer)) return noSuch('customer', customer, 'customer');
  const amount = whole(asString(params.amount));
  if (amount === undefined) return invalidParam('amount', 'Invalid integer: amount');
  const currency = asString(params.currency);
  if (!currency) return missingParam('currency');
  const subscriptionId = asString(params.subscription);
  if (subscriptionId !== undefined) {
    const subscription = state.subscriptions.get(subscriptionId);
    if (!subscription) return noSuch('subscription', subscriptionId, 'subscription');
    if (subscription.customer !== customer) {
      const message = `The subscription ${subscriptionId} does not belong to the customer ${customer}.`;
      return stripeError(400, 'invalid_request_error', message, { param: 'subscription' });
    }
  }
  const period = asParams(params.period);
  const start = whole(asString(period?.start));
  const end = whole(asString(period?.end));
  if (period && (start === undefined || end === undefined || end < start)) {
    return invalidParam(
      'period',
      'period[start] and period[end] must be timestamps, the end not before the start.',
    );
  }
  const item = {
    id: newId('ii'),
    object: 'invoiceitem',
    customer,
    subscription: subscriptionId ?? null,
    amount,
    currency: currency.toLowerCase(),
    description: asString(params.description) ?? null,
    period: { start: start ?? state.nowSeconds(), end: end ?? state.nowSeconds() },
    proration: false,
    invoice: null,
    date: state.nowSeconds(),
    metadata: asStringMap(params.metadata),
  };
  state.invoiceItems.push(item);
  return ok(item);
}

/** GET /v1/invoiceitems: the invoice items of `customer` (all of them without it), newest first as Stripe lists. */
export function listInvoiceItems(state: StripeState, query: Params): StripeReply {
  const customer = asString(query.customer);
  const items = state.invoiceItems.filter((item) => customer === undefined || item.customer === customer);
  return listOf(items.reverse(), query, '/v1/invoiceitems');
}
