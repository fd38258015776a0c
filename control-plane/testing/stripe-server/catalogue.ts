import { invalidParam, missingParam, noSuch, ok, type StripeReply, stripeError } from './errors.js';
import { asList, asParams, asString, asStringMap, type Params } from './form.js';
import { listOf, newId, rejectUnknown, type StripeObject, type StripeState } from './state.js';
import { addMonth, newItem } from './subscriptions.js';

// Customers, products, prices and subscriptions: the parts of Stripe's catalogue a metered subscription needs.

export function createCustomer(state: StripeState, params: Params): StripeReply {
  const unknown = rejectUnknown(params, ['name', 'email', 'description', 'metadata']);
  if (unknown) return unknown;
  const customer: StripeObject = {
    id: newId('cus'),
    object: 'customer',
    created: state.nowSeconds(),
    name: asString(params.name) ?? null,
    email: asString(params.email) ?? null,
    description: asString(params.description) ?? null,
    metadata: asStringMap(params.metadata),
    livemode: false,
    delinquent: false,
    currency: null,
  };
  state.customers.set(customer.id, customer);
  return ok(customer);
}

function createProductObject(state: StripeState, params: Params): StripeObject {
  return {
    id: newId('prod'),
    object: 'product',
    active: true,
    created: state.nowSeconds(),
    name: asString(params.name) ?? '',
    metadata: asStringMap(params.metadata),
    livemode: false,
  };
}

export function createProduct(state: StripeState, params: Params): StripeReply {
  const unknown = rejectUnknown(params, ['name', 'description', 'metadata', 'active']);
  if (unknown) return unknown;
  if (!asString(params.name)) return missingParam('name');
  const product = createProductObject(state, params);
  state.products.set(product.id, product);
  return ok(product);
}

const DECIMAL = /^\d+(\.\d{1,12})?$/;

/** The recurring part of a price, or the error Stripe would answer for it. */
function recurringOf(state: StripeState, params: Params): StripeReply | Record<string, unknown> | null {
  const recurring = asParams(params.recurring);
  if (!recurring) return null;
  const interval = asString(recurring.interval);
  if (!interval) return missingParam('recurring[interval]');
  if (!['day', 'week', 'month', 'year'].includes(interval)) {
    return invalidParam(
      'recurring[interval]',
      `Invalid recurring[interval]: must be one of day, week, month, year`,
    );
  }
  const usageType = asString(recurring.usage_type) ?? 'licensed';
  const meter = asString(recurring.meter) ?? null;
  if (usageType === 'metered' && !meter) {
    return invalidParam(
      'recurring[meter]',
      'Metered prices must be backed by a meter: set recurring[meter].',
    );
  }
  if (meter && !state.meters.has(meter)) return noSuch('billing meter', meter, 'recurring[meter]');
  return {
    interval,
    interval_count: Number(asString(recurring.interval_count) ?? 1),
    meter,
    usage_type: usageType,
    trial_period_days: null,
  };
}

export function createPrice(state: StripeState, params: Params): StripeReply {
  const unknown = rejectUnknown(params, [
    'currency',
    'product',
    'product_data',
    'unit_amount',
    'unit_amount_decimal',
    'recurring',
    'lookup_key',
    'nickname',
    'metadata',
    'billing_scheme',
  ]);
  if (unknown) return unknown;
  const currency = asString(params.currency);
  if (!currency) return missingParam('currency');
  let product = asString(params.product);
  if (product && !state.products.has(product)) return noSuch('product', product, 'product');
  const productData = asParams(params.product_data);
  if (!product && productData) {
    if (!asString(productData.name)) return missingParam('product_data[name]');
    const created = createProductObject(state, productData);
    state.products.set(created.id, created);
    product = created.id;
  }
  if (!product) return missingParam('product');
  const amount = asString(params.unit_amount);
  const decimal = asString(params.unit_amount_decimal);
  if ((amount === undefined) === (decimal === undefined)) {
    return invalidParam('unit_amount', 'Exactly one of unit_amount or unit_amount_decimal must be set.');
  }
  if (amount !== undefined && !/^\d+$/.test(amount)) return invalidParam('unit_amount', 'Invalid integer');
  if (decimal !== undefined && !DECIMAL.test(decimal)) {
    return invalidParam('unit_amount_decimal', 'Invalid decimal: at most 12 decimal places are allowed.');
  }
  const recurring = recurringOf(state, params);
  if (recurring && 'status' in recurring && 'body' in recurring) return recurring as StripeReply;
  const lookupKey = asString(params.lookup_key) ?? null;
  if (lookupKey) {
    const taken = [...state.prices.values()].find((p) => p.lookup_key === lookupKey && p.active === true);
    if (taken) {
      return invalidParam('lookup_key', `A price (\`${taken.id}\`) already uses that lookup key.`);
    }
  }
  const price: StripeObject = {
    id: newId('price'),
    object: 'price',
    active: true,
    billing_scheme: 'per_unit',
    created: state.nowSeconds(),
    currency: currency.toLowerCase(),
    livemode: false,
    lookup_key: lookupKey,
    metadata: asStringMap(params.metadata),
    nickname: asString(params.nickname) ?? null,
    product,
    recurring,
    type: recurring ? 'recurring' : 'one_time',
    unit_amount:
      amount !== undefined ? Number(amount) : Number.isInteger(Number(decimal)) ? Number(decimal) : null,
    unit_amount_decimal: decimal ?? amount ?? null,
  };
  state.prices.set(price.id, price);
  return ok(price);
}

export function listPrices(state: StripeState, query: Params): StripeReply {
  const lookupKeys = (asList(query.lookup_keys) ?? []).filter((k): k is string => typeof k === 'string');
  const active = asString(query.active);
  const prices = [...state.prices.values()].filter(
    (p) =>
      (lookupKeys.length === 0 || lookupKeys.includes(String(p.lookup_key))) &&
      (active === undefined || String(p.active) === active),
  );
  return listOf(prices, query, '/v1/prices');
}

export function createSubscription(state: StripeState, params: Params): StripeReply {
  const unknown = rejectUnknown(params, [
    'customer',
    'items',
    'metadata',
    'payment_behavior',
    'collection_method',
    'days_until_due',
    'description',
    'billing_cycle_anchor',
    'backdate_start_date',
    'proration_behavior',
  ]);
  if (unknown) return unknown;
  const period = firstPeriod(state, params);
  if ('reply' in period) return period.reply;
  const customer = asString(params.customer);
  if (!customer) return missingParam('customer');
  if (!state.customers.has(customer)) return noSuch('customer', customer, 'customer');
  const items = asList(params.items) ?? [];
  if (items.length === 0) return missingParam('items');
  const id = newId('sub');
  const data: StripeObject[] = [];
  for (const [i, raw] of items.entries()) {
    const item = asParams(raw) ?? {};
    const priceId = asString(item.price);
    if (!priceId) return missingParam(`items[${i}][price]`);
    const price = state.prices.get(priceId);
    if (!price) return noSuch('price', priceId, `items[${i}][price]`);
    if (price.active === false) {
      const message = 'The price specified is inactive. This field only accepts active prices.';
      return stripeError(400, 'invalid_request_error', message, { param: `items[${i}][price]` });
    }
    if (data.some((d) => (d.price as StripeObject).id === priceId)) {
      return invalidParam(
        `items[${i}][price]`,
        'Cannot add multiple subscription items with the same price.',
      );
    }
    const metered = (price.recurring as { usage_type?: string } | null)?.usage_type === 'metered';
    if (metered && item.quantity !== undefined) {
      return stripeError(
        400,
        'invalid_request_error',
        'Quantity should not be specified where usage_type is `metered`.',
        {
          param: `items[${i}][quantity]`,
        },
      );
    }
    data.push(newItem(state, id, price, Number(asString(item.quantity) ?? 1), period));
  }
  const subscription: StripeObject = {
    id,
    object: 'subscription',
    customer,
    status: 'active',
    created: state.nowSeconds(),
    livemode: false,
    metadata: asStringMap(params.metadata),
    collection_method: asString(params.collection_method) ?? 'charge_automatically',
    billing_cycle_anchor: period.end,
    start_date: period.start,
    ended_at: null,
    items: { object: 'list', data, has_more: false, url: `/v1/subscription_items?subscription=${id}` },
  };
  state.subscriptions.set(id, subscription);
  // A first period cut short by the anchor is charged pro rata (its share of a whole month from its start, the
  // backdated one included) unless proration_behavior is 'none'.
  if (period.anchored && period.proration !== 'none') {
    const share = (period.end - period.start) / (addMonth(period.start) - period.start);
    for (const item of data) prorate(state, item, share, customer, id);
  }
  state.subscriptionCreations.push({
    subscription: id,
    billingCycleAnchor: period.anchored ? period.end : undefined,
    backdateStartDate: period.backdated ? period.start : undefined,
    prorationBehavior: period.proration,
  });
  return ok(subscription);
}

function prorate(
  state: StripeState,
  item: StripeObject,
  share: number,
  customer: string,
  subscription: string,
) {
  const price = item.price as StripeObject;
  if ((price.recurring as { usage_type?: string } | null)?.usage_type === 'metered') return;
  state.invoiceItems.push({
    id: newId('ii'),
    object: 'invoiceitem',
    customer,
    subscription,
    price: price.id,
    amount: Math.round(Number(price.unit_amount_decimal ?? 0) * Number(item.quantity ?? 1) * share),
    proration: true,
    description: `Time until the billing cycle anchor on ${price.id}`,
  });
}

const MONTH_PRORATIONS = ['create_prorations', 'none'];

const whole = (raw: string | undefined) => (raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : undefined);

/**
 * The first period of a new (monthly) subscription: from now, or from `backdate_start_date` (which Stripe takes
 * only in the past), to `billing_cycle_anchor` when one is given, which Stripe takes only as a whole timestamp in
 * the future and no later than the next natural billing date (a month from the period's start); otherwise a
 * whole month from now. Meter events stamped within the period are billed on the invoice at its end, so a
 * backdated period bills the usage stamped since its start.
 */
function firstPeriod(
  state: StripeState,
  params: Params,
):
  | { reply: StripeReply }
  | { start: number; end: number; anchored: boolean; backdated: boolean; proration: string } {
  const now = state.nowSeconds();
  const proration = asString(params.proration_behavior) ?? 'create_prorations';
  if (!MONTH_PRORATIONS.includes(proration)) {
    const message = `Invalid proration_behavior: must be one of ${MONTH_PRORATIONS.join(', ')}`;
    return { reply: invalidParam('proration_behavior', message) };
  }
  const rawBackdate = asString(params.backdate_start_date);
  const backdate = whole(rawBackdate);
  if (rawBackdate !== undefined && backdate === undefined) {
    return { reply: invalidParam('backdate_start_date', 'Invalid integer: backdate_start_date') };
  }
  if (backdate !== undefined && backdate >= now) {
    return { reply: invalidParam('backdate_start_date', 'backdate_start_date must be in the past.') };
  }
  const start = backdate ?? now;
  const natural = addMonth(start);
  const raw = asString(params.billing_cycle_anchor);
  if (raw === undefined) {
    // Stripe then anchors to now and invoices the backdated time at once; Meridian never asks for that.
    if (backdate !== undefined) {
      const message = 'This stand-in takes backdate_start_date only with billing_cycle_anchor.';
      return { reply: invalidParam('backdate_start_date', message) };
    }
    return { start, end: natural, anchored: false, backdated: false, proration };
  }
  const anchor = whole(raw);
  if (anchor === undefined) {
    return { reply: invalidParam('billing_cycle_anchor', 'Invalid integer: billing_cycle_anchor') };
  }
  if (anchor <= now) {
    return { reply: invalidParam('billing_cycle_anchor', 'billing_cycle_anchor cannot be in the past.') };
  }
  if (anchor > natural) {
    const message = `billing_cycle_anchor cannot be later than next natural billing date (${natural}) for plan`;
    return { reply: invalidParam('billing_cycle_anchor', message) };
  }
  return { start, end: anchor, anchored: true, backdated: backdate !== undefined, proration };
}

/** GET /v1/<collection>/<id> for the catalogue objects. */
export function retrieve(state: StripeState, collection: string, id: string): StripeReply {
  const tables: Record<string, [Map<string, StripeObject>, string]> = {
    customers: [state.customers, 'customer'],
    products: [state.products, 'product'],
    prices: [state.prices, 'price'],
    subscriptions: [state.subscriptions, 'subscription'],
    'billing/meters': [state.meters, 'billing meter'],
  };
  const [table, name] = tables[collection] ?? [new Map<string, StripeObject>(), collection];
  const found = table.get(id);
  return found ? ok(found) : noSuch(name, id);
}
