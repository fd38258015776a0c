import Stripe from 'stripe';
import type {
  InvoiceItemAdded,
  MeterEventResult,
  MeterEventSpec,
  NewInvoiceItem,
  NewSubscription,
  PriceSpec,
  StripeCallResult,
  StripeFailure,
  StripeGateway,
  SubscriptionCreated,
  SubscriptionItemsUpdate,
  SubscriptionView,
} from './gateway.js';

export interface SdkGatewayOptions {
  secretKey: string;
  /** A Stripe-compatible server instead of api.stripe.com, e.g. `http://127.0.0.1:12111`. */
  apiUrl?: string | undefined;
  /** Per-request timeout; a meter event that times out is retried by the outbox with the same identifier. */
  timeoutMs?: number | undefined;
}

/** Stripe's client pointed at `apiUrl` when given (host, port and protocol; Stripe's paths are fixed). */
export function createStripeClient(options: SdkGatewayOptions): Stripe {
  const target = options.apiUrl ? new URL(options.apiUrl) : undefined;
  return new Stripe(options.secretKey, {
    ...(target
      ? {
          host: target.hostname,
          port: target.port || (target.protocol === 'http:' ? 80 : 443),
          protocol: target.protocol === 'http:' ? 'http' : 'https',
        }
      : {}),
    timeout: options.timeoutMs ?? 30_000,
    // No retries inside the SDK (beyond its one resend of a request whose connection closed): the runner's
    // next pass retries setup calls, and the outbox retries meter events with backoff that survives restarts.
    maxNetworkRetries: 0,
    telemetry: false,
    appInfo: { name: 'meridian-control-plane' },
  });
}

/** Seconds from a Retry-After header: either delta-seconds or an HTTP date. */
function retryAfterMs(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** The subscription metadata key that names the Idempotency-Key it was created under. */
const CREATION_KEY = 'creation_key';
/** The invoice item metadata key that names the backfill it carries. */
const BACKFILL_KEY = 'backfill_key';

// Stripe rejects a repeated identifier with a 400 and this message (and Stripe-Should-Retry: false).
const DUPLICATE_IDENTIFIER = /already exists with identifier/i;

/** Sorts an SDK failure into what a caller that retries needs to know. */
export function classifyStripeError(error: unknown): StripeFailure {
  if (!(error instanceof Stripe.errors.StripeError)) {
    return { kind: 'failed', reason: 'network', message: String(error) };
  }
  const status = error.statusCode;
  const shouldRetry = error.headers?.['stripe-should-retry'];
  const base = {
    message: error.message,
    ...(error.rawType ? { type: error.rawType } : {}),
    ...(error.code ? { code: error.code } : {}),
    ...(error.decline_code ? { declineCode: error.decline_code } : {}),
    ...(error.param ? { param: error.param } : {}),
    ...(shouldRetry === 'true' || shouldRetry === 'false' ? { shouldRetry: shouldRetry === 'true' } : {}),
    ...(error.requestId ? { requestId: error.requestId } : {}),
  };
  if (error instanceof Stripe.errors.StripeConnectionError) {
    return { kind: 'failed', reason: /timeout/i.test(error.message) ? 'timeout' : 'network', ...base };
  }
  if (status === undefined) return { kind: 'failed', reason: 'invalid_response', ...base };
  const wait = retryAfterMs(error.headers?.['retry-after']);
  return {
    kind: 'failed',
    reason: status === 429 ? 'rate_limited' : 'http',
    status,
    ...(wait !== undefined ? { retryAfterMs: wait } : {}),
    ...base,
  };
}

/** Sorts a meter event's failure: a repeated identifier means Stripe counted it before. */
export function classifyMeterEventError(error: unknown): MeterEventResult {
  if (
    error instanceof Stripe.errors.StripeError &&
    error.statusCode === 400 &&
    DUPLICATE_IDENTIFIER.test(error.message)
  ) {
    return { kind: 'duplicate' };
  }
  return classifyStripeError(error);
}

/** The real adapter: Stripe's own SDK. */
export class SdkStripeGateway implements StripeGateway {
  constructor(private readonly stripe: Stripe) {}

  static fromOptions(options: SdkGatewayOptions): SdkStripeGateway {
    return new SdkStripeGateway(createStripeClient(options));
  }

  async findMeter(eventName: string) {
    for await (const meter of this.stripe.billing.meters.list({ status: 'active', limit: 100 })) {
      if (meter.event_name === eventName) return { id: meter.id };
    }
    return undefined;
  }

  async createMeter(meter: { eventName: string; displayName: string }, idempotencyKey: string) {
    const created = await this.stripe.billing.meters.create(
      {
        display_name: meter.displayName,
        event_name: meter.eventName,
        default_aggregation: { formula: 'sum' },
        customer_mapping: { type: 'by_id', event_payload_key: 'stripe_customer_id' },
        value_settings: { event_payload_key: 'value' },
      },
      { idempotencyKey },
    );
    return { id: created.id };
  }

  async findPrice(lookupKey: string) {
    const prices = await this.stripe.prices.list({ lookup_keys: [lookupKey], active: true, limit: 1 });
    return prices.data[0]?.id;
  }

  async createPrice(price: PriceSpec, idempotencyKey: string) {
    const created = await this.stripe.prices.create(
      {
        currency: 'usd',
        lookup_key: price.lookupKey,
        product_data: { name: price.productName },
        unit_amount_decimal: Stripe.Decimal.from(price.unitAmountDecimal),
        recurring: price.usage.metered
          ? { interval: 'month', usage_type: 'metered', meter: price.usage.meterId }
          : { interval: 'month', usage_type: 'licensed' },
      },
      { idempotencyKey },
    );
    return created.id;
  }

  async createCustomer(customer: { orgId: string; name: string }, idempotencyKey: string) {
    const created = await this.stripe.customers.create(
      { name: customer.name, metadata: { org_id: customer.orgId } },
      { idempotencyKey },
    );
    return created.id;
  }

  async createSubscription(
    subscription: NewSubscription,
    idempotencyKey: string,
  ): Promise<SubscriptionCreated> {
    try {
      const created = await this.stripe.subscriptions.create(
        {
          customer: subscription.customerId,
          items: subscription.priceIds.map((price) => ({ price })),
          metadata: {
            org_id: subscription.orgId,
            ...(subscription.creationKey === undefined ? {} : { [CREATION_KEY]: subscription.creationKey }),
          },
          billing_cycle_anchor: subscription.billingCycleAnchor,
          ...(subscription.backdateStartDate === undefined
            ? {}
            : { backdate_start_date: subscription.backdateStartDate }),
          proration_behavior: subscription.prorationBehavior,
          // Metered items cost nothing up front; a base fee waits for a payment method instead of failing.
          payment_behavior: 'default_incomplete',
        },
        { idempotencyKey },
      );
      return { kind: 'created', id: created.id };
    } catch (error) {
      return classifyStripeError(error);
    }
  }

  async findCreatedSubscription(customerId: string, creationKey: string) {
    // status 'all': a subscription Stripe has ended since (unpaid, cancelled) was still made under the key.
    for await (const subscription of this.stripe.subscriptions.list({
      customer: customerId,
      status: 'all',
      limit: 100,
    })) {
      if (subscription.metadata[CREATION_KEY] === creationKey) return subscription.id;
    }
    return undefined;
  }

  async sendMeterEvent(event: MeterEventSpec, idempotencyKey: string): Promise<MeterEventResult> {
    try {
      await this.stripe.billing.meterEvents.create(
        {
          event_name: event.eventName,
          payload: { stripe_customer_id: event.customerId, value: String(event.value) },
          identifier: event.identifier,
          timestamp: event.timestamp,
        },
        { idempotencyKey },
      );
      return { kind: 'accepted' };
    } catch (error) {
      return classifyMeterEventError(error);
    }
  }

  async getSubscription(subscriptionId: string): Promise<SubscriptionView> {
    const subscription = await this.stripe.subscriptions.retrieve(subscriptionId);
    const items: SubscriptionView['items'] = [];
    // A subscription embeds only its first items; the list has them all.
    for await (const item of this.stripe.subscriptionItems.list({
      subscription: subscriptionId,
      limit: 100,
    })) {
      items.push({
        id: item.id,
        priceId: item.price.id,
        lookupKey: item.price.lookup_key ?? null,
        metered: item.price.recurring?.usage_type === 'metered',
      });
    }
    return {
      id: subscription.id,
      status: subscription.status,
      endedAt: subscription.ended_at ?? null,
      items,
    };
  }

  async updateSubscriptionItems(
    update: SubscriptionItemsUpdate,
    idempotencyKey: string,
  ): Promise<StripeCallResult> {
    const items = update.changes.map((change) => {
      if (change.kind === 'add') return { price: change.priceId };
      if (change.kind === 'swap') return { id: change.itemId, price: change.priceId };
      // Usage already reported for the item stays on the subscription's next invoice.
      return { id: change.itemId, deleted: true, clear_usage: false };
    });
    try {
      await this.stripe.subscriptions.update(
        update.subscriptionId,
        { items, proration_behavior: update.prorationBehavior },
        { idempotencyKey },
      );
      return { kind: 'done' };
    } catch (error) {
      return classifyStripeError(error);
    }
  }

  async meterTotal(meterId: string, customerId: string, fromMs: number, toMs: number) {
    let total = 0;
    const summaries = this.stripe.billing.meters.listEventSummaries(meterId, {
      customer: customerId,
      start_time: Math.floor(fromMs / 1000),
      end_time: Math.floor(toMs / 1000),
      limit: 100,
    });
    for await (const summary of summaries) total += summary.aggregated_value;
    return total;
  }

  async addInvoiceItem(item: NewInvoiceItem, idempotencyKey: string): Promise<InvoiceItemAdded> {
    try {
      const created = await this.stripe.invoiceItems.create(
        {
          customer: item.customerId,
          subscription: item.subscriptionId,
          amount: item.amountCents,
          currency: 'usd',
          description: item.description,
          period: item.period,
          metadata: { org_id: item.orgId, [BACKFILL_KEY]: item.key },
        },
        { idempotencyKey },
      );
      return { kind: 'added', id: created.id };
    } catch (error) {
      return classifyStripeError(error);
    }
  }

  async findInvoiceItem(customerId: string, key: string) {
    for await (const item of this.stripe.invoiceItems.list({ customer: customerId, limit: 100 })) {
      if (item.metadata?.[BACKFILL_KEY] === key) return item.id;
    }
    return undefined;
  }
}
