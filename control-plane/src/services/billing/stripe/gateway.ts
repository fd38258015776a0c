/**
 * What Meridian asks of Stripe. The real adapter (`sdk-gateway.ts`) speaks to Stripe's API, or to any
 * Stripe-compatible server at a configured URL (the local stand-in in tests). Setup calls throw on failure and
 * are retried on the next pass; the one hot call, sending a meter event, returns a result that tells the
 * failure kinds apart so the outbox can decide how long to wait.
 */
export interface StripeGateway {
  /** The active meter with this event name, if Stripe has one. */
  findMeter(eventName: string): Promise<{ id: string } | undefined>;
  createMeter(
    meter: { eventName: string; displayName: string },
    idempotencyKey: string,
  ): Promise<{ id: string }>;
  /** The active price with this lookup key, if any. */
  findPrice(lookupKey: string): Promise<string | undefined>;
  createPrice(price: PriceSpec, idempotencyKey: string): Promise<string>;
  createCustomer(customer: { orgId: string; name: string }, idempotencyKey: string): Promise<string>;
  /**
   * The subscription carries `creationKey` in its metadata (`creation_key`), for `findCreatedSubscription`. A
   * 4xx answer comes back as a failure naming Stripe's error type, code and the refused parameter.
   */
  createSubscription(subscription: NewSubscription, idempotencyKey: string): Promise<SubscriptionCreated>;
  /**
   * The id of the customer's subscription created under `creationKey`, whatever its status, or undefined when
   * Stripe holds none. Read from the list of the customer's subscriptions, which answers what was just written
   * (Stripe's search may lag writes by a minute, more during an outage), so it holds after the key expired.
   */
  findCreatedSubscription(customerId: string, creationKey: string): Promise<string | undefined>;
  sendMeterEvent(event: MeterEventSpec, idempotencyKey: string): Promise<MeterEventResult>;
  /** Stripe's aggregated value of one meter for one customer over [fromMs, toMs) (minute-aligned). */
  meterTotal(meterId: string, customerId: string, fromMs: number, toMs: number): Promise<number>;
  /** A subscription's status and every item on it. */
  getSubscription(subscriptionId: string): Promise<SubscriptionView>;
  /**
   * Changes a subscription's items in one update. A removed item is deleted with `clear_usage: false`: usage
   * Stripe holds for it stays billable.
   */
  updateSubscriptionItems(update: SubscriptionItemsUpdate, idempotencyKey: string): Promise<StripeCallResult>;
  /**
   * Adds a one-off amount to a subscription's next invoice (`POST /v1/invoiceitems`). The item carries `key` in
   * its metadata (`backfill_key`), for `findInvoiceItem`.
   */
  addInvoiceItem(item: NewInvoiceItem, idempotencyKey: string): Promise<InvoiceItemAdded>;
  /** The id of the customer's invoice item whose metadata names `key`, or undefined when Stripe holds none. */
  findInvoiceItem(customerId: string, key: string): Promise<string | undefined>;
}

export interface NewInvoiceItem {
  customerId: string;
  subscriptionId: string;
  orgId: string;
  key: string;
  /** Whole cents, in USD. */
  amountCents: number;
  description: string;
  /** Seconds since the epoch: the period the amount is for, shown on the invoice. */
  period: { start: number; end: number };
}

export type InvoiceItemAdded = { kind: 'added'; id: string } | StripeFailure;

export interface NewSubscription {
  customerId: string;
  orgId: string;
  priceIds: string[];
  /** Seconds since the epoch: where Stripe's billing periods begin (in the future, at most one period ahead). */
  billingCycleAnchor: number;
  /**
   * Seconds since the epoch, in the past: where the first period begins instead of the creation time, so meter
   * events stamped since then are billed on the invoice at the anchor. Absent: the first period begins now.
   */
  backdateStartDate?: number;
  /** How the first, partial period up to the anchor is charged. */
  prorationBehavior: ProrationBehavior;
  /**
   * The Idempotency-Key it is created under, written into its metadata (`creation_key`) for
   * `findCreatedSubscription`. Part of the request, so a resend is the request first sent: a request stored
   * before subscriptions carried it has none, and Stripe replays a key only for the same parameters.
   */
  creationKey?: string;
}

export type SubscriptionCreated = { kind: 'created'; id: string } | StripeFailure;

export interface SubscriptionView {
  id: string;
  /** Stripe's status: `active`, `past_due`, `incomplete`, `canceled`, … */
  status: string;
  /** Seconds since the epoch when Stripe ended it; null while it has not ended. */
  endedAt: number | null;
  items: SubscriptionItemView[];
}

export interface SubscriptionItemView {
  id: string;
  priceId: string;
  /** The price's lookup key, if it has one. */
  lookupKey: string | null;
  metered: boolean;
}

export type SubscriptionItemChange =
  | { kind: 'add'; priceId: string }
  /** The item keeps its id and takes another price. */
  | { kind: 'swap'; itemId: string; priceId: string }
  | { kind: 'remove'; itemId: string };

/** Stripe's `proration_behavior`: whether a change of a licensed item is charged or credited for the period. */
export type ProrationBehavior = 'none' | 'create_prorations' | 'always_invoice';

export interface SubscriptionItemsUpdate {
  subscriptionId: string;
  changes: SubscriptionItemChange[];
  prorationBehavior: ProrationBehavior;
}

export interface PriceSpec {
  lookupKey: string;
  productName: string;
  /** Cents per unit as a decimal string with at most 12 decimal places. */
  unitAmountDecimal: string;
  /** Metered prices bill what a meter aggregated; licensed ones a fixed fee a month. */
  usage: { metered: true; meterId: string } | { metered: false };
}

export interface MeterEventSpec {
  eventName: string;
  customerId: string;
  value: number;
  /** Stripe deduplicates on it for at least 24 hours: the same identifier is counted once. */
  identifier: string;
  /** Seconds since the epoch: within the past 35 days and not in the future. */
  timestamp: number;
}

/** A call Stripe did not carry out, told apart so the caller can decide how long to wait. */
export interface StripeFailure {
  kind: 'failed';
  reason: 'network' | 'timeout' | 'rate_limited' | 'http' | 'invalid_response';
  status?: number;
  /** Stripe's error type (`invalid_request_error`, `card_error`, `idempotency_error`, `api_error`). */
  type?: string;
  /** Stripe's error code (`rate_limit`, `lock_timeout`, `resource_missing`, …). */
  code?: string;
  /** A card_error's reason from the card issuer (`insufficient_funds`, …). */
  declineCode?: string;
  /** Stripe's `Stripe-Should-Retry` header, when it sent one: whether the same request may succeed later. */
  shouldRetry?: boolean;
  /** Stripe's request id (`req_…`), for the operator to find the request in Stripe's logs. */
  requestId?: string;
  /** The request parameter Stripe refused, when it names one. */
  param?: string;
  /** From a `Retry-After` header. */
  retryAfterMs?: number;
  message: string;
}

export type MeterEventResult =
  | { kind: 'accepted' }
  /** Stripe already holds an event with this identifier: it was counted before. */
  | { kind: 'duplicate' }
  | StripeFailure;

export type StripeCallResult = { kind: 'done' } | StripeFailure;
