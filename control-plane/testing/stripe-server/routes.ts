import {
  createCustomer,
  createPrice,
  createProduct,
  createSubscription,
  listPrices,
  retrieve,
} from './catalogue.js';
import { type StripeReply, unrecognizedUrl } from './errors.js';
import type { Params } from './form.js';
import { createInvoiceItem, listInvoiceItems } from './invoice-items.js';
import { createMeter, createMeterEvent, listEventSummaries, listMeters } from './metering.js';
import { deleteCustomer, updatePrice } from './removals.js';
import { listOf, type StripeState } from './state.js';
import { listSubscriptionItems, listSubscriptions, updateSubscription } from './subscriptions.js';

export interface ApiRequest {
  method: string;
  path: string;
  query: Params;
  params: Params;
  requestId: string;
}

/** The endpoints the Meridian integration uses, answered from the in-memory state. */
export function dispatch(state: StripeState, req: ApiRequest): StripeReply {
  const { method, path, params, query } = req;
  const post = method === 'POST';
  const get = method === 'GET';
  if (post && path === '/v1/customers') return createCustomer(state, params);
  if (get && path === '/v1/customers') return listOf([...state.customers.values()], query, path);
  if (post && path === '/v1/products') return createProduct(state, params);
  if (post && path === '/v1/prices') return createPrice(state, params);
  if (get && path === '/v1/prices') return listPrices(state, query);
  if (post && path === '/v1/subscriptions') return createSubscription(state, params);
  if (get && path === '/v1/subscriptions') return listSubscriptions(state, query);
  const subscription = path.match(/^\/v1\/subscriptions\/([^/]+)$/);
  if (post && subscription?.[1]) {
    return updateSubscription(state, decodeURIComponent(subscription[1]), params, req.requestId);
  }
  if (get && path === '/v1/subscription_items') return listSubscriptionItems(state, query);
  if (post && path === '/v1/invoiceitems') return createInvoiceItem(state, params);
  if (get && path === '/v1/invoiceitems') return listInvoiceItems(state, query);
  if (post && path === '/v1/billing/meters') return createMeter(state, params);
  if (get && path === '/v1/billing/meters') return listMeters(state, query);
  if (post && path === '/v1/billing/meter_events') return createMeterEvent(state, params, req.requestId);
  const summaries = path.match(/^\/v1\/billing\/meters\/([^/]+)\/event_summaries$/);
  if (get && summaries?.[1]) return listEventSummaries(state, decodeURIComponent(summaries[1]), query);
  const customer = path.match(/^\/v1\/customers\/([^/]+)$/);
  if (method === 'DELETE' && customer?.[1]) return deleteCustomer(state, decodeURIComponent(customer[1]));
  const price = path.match(/^\/v1\/prices\/([^/]+)$/);
  if (post && price?.[1]) return updatePrice(state, decodeURIComponent(price[1]), params);
  const single = path.match(/^\/v1\/(customers|products|prices|subscriptions|billing\/meters)\/([^/]+)$/);
  if (get && single?.[1] && single[2]) return retrieve(state, single[1], decodeURIComponent(single[2]));
  return unrecognizedUrl(method, path);
}
