import { randomBytes } from 'node:crypto';
import { type StripeReply, unknownParam } from './errors.js';
import type { Params } from './form.js';

/** Stripe-style ids: a type prefix and 14 random characters. */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('base64url').replace(/[-_]/g, '').slice(0, 14)}`;
}

/** One meter event the server accepted. `counted` is false when it failed the meter's async validation. */
export interface AcceptedMeterEvent {
  identifier: string;
  eventName: string;
  customer: string | undefined;
  /** The payload value as sent (Stripe takes whole numbers as strings). */
  value: string;
  /** Seconds since the epoch, as Stripe keeps it. */
  timestamp: number;
  created: number;
  requestId: string;
}

/** A meter event Stripe accepted but could not attribute (its error report), e.g. an unknown customer. */
export interface MeterEventError {
  identifier: string;
  eventName: string;
  reason: string;
}

export type StripeObject = Record<string, unknown> & { id: string };

/** Everything the server holds, in memory. */
export class StripeState {
  readonly customers = new Map<string, StripeObject>();
  readonly products = new Map<string, StripeObject>();
  readonly prices = new Map<string, StripeObject>();
  readonly subscriptions = new Map<string, StripeObject>();
  readonly meters = new Map<string, StripeObject>();
  /** Every meter event accepted, in arrival order, including those that failed async validation. */
  readonly meterEvents: AcceptedMeterEvent[] = [];
  /** identifier → the event that claimed it; a second event with the same identifier is rejected. */
  readonly identifiers = new Map<string, AcceptedMeterEvent>();
  readonly meterErrors: MeterEventError[] = [];
  /** Invoice items for the customer's next invoice: prorations subscription changes made, and those added by POST /v1/invoiceitems. */
  readonly invoiceItems: StripeObject[] = [];
  /** Items deleted from subscriptions, and whether their usage was cleared with them. */
  readonly deletedItems: { item: StripeObject; clearUsage: boolean; subscription: string }[] = [];
  /**
   * Every subscription created: its billing_cycle_anchor and backdate_start_date when given, and its
   * proration_behavior.
   */
  readonly subscriptionCreations: {
    subscription: string;
    billingCycleAnchor: number | undefined;
    backdateStartDate: number | undefined;
    prorationBehavior: string;
  }[] = [];
  /** Every subscription update applied (a replayed Idempotency-Key applies nothing and adds nothing). */
  readonly subscriptionUpdates: { subscription: string; requestId: string; prorationBehavior: string }[] = [];

  constructor(readonly clock: () => number) {}

  /** Seconds since the epoch on the server's clock. */
  nowSeconds(): number {
    return Math.floor(this.clock() / 1000);
  }
}

/** Stripe rejects parameters an endpoint does not know; so does this server, to catch typos in callers. */
export function rejectUnknown(params: Params, allowed: readonly string[]): StripeReply | undefined {
  for (const key of Object.keys(params)) {
    if (key !== 'expand' && !allowed.includes(key)) return unknownParam(key);
  }
  return undefined;
}

/** A list object, with `limit` and `starting_after` cursor pagination over `items` in creation order. */
export function listOf(items: StripeObject[], query: Params, url: string): StripeReply {
  const limit = Math.min(100, Math.max(1, Number(query.limit ?? 10) || 10));
  const after = typeof query.starting_after === 'string' ? query.starting_after : undefined;
  const start = after ? items.findIndex((item) => item.id === after) + 1 : 0;
  const data = items.slice(start, start + limit);
  return {
    status: 200,
    body: { object: 'list', data, has_more: start + limit < items.length, url },
  };
}
