import { and, eq, lte } from 'drizzle-orm';
import { z } from 'zod';
import type { Database } from '../../../db/client.js';
import { billingCustomers, stripePlanChanges } from '../../../db/schema.js';
import type { Logger } from '../../../lib/logger.js';
import type { StripeFailure } from './gateway.js';

/**
 * The error types with which Stripe refuses a request for what it asks (docs.stripe.com/api/errors):
 * `invalid_request_error` (a deleted customer, an archived price, a parameter it will not take) and
 * `card_error` (the card cannot be charged). `api_error` is Stripe's own fault and `idempotency_error` a clash
 * of keys or of requests in flight: both may pass later.
 */
const REFUSING_TYPES = ['invalid_request_error', 'card_error'];

/** Statuses Stripe documents for a request that failed as asked: 400 (invalid), 402 (failed), 404 (missing). */
const REFUSING_STATUSES = [400, 402, 404];

/** Codes Stripe sends with `invalid_request_error` that waiting fixes: limits and locks, a key still in use. */
const WAIT_CODES = ['rate_limit', 'lock_timeout', 'idempotency_key_in_use'];

/**
 * Whether Stripe refused a request for good: sent again, unchanged, it is refused again. Not a network failure,
 * a timeout, a 5xx, a 429, a 409 or an idempotency_error (they may pass later), nor a 401 or 403 (the
 * platform's own key or its permissions: the operator's to fix, after which the same request passes), nor
 * anything Stripe marks `Stripe-Should-Retry: true`. Stripe saves no subscription for a refused creation. Pure.
 */
export function isPermanentRefusal(failure: StripeFailure): boolean {
  if (failure.reason !== 'http' || failure.shouldRetry === true) return false;
  if (failure.status === undefined || !REFUSING_STATUSES.includes(failure.status)) return false;
  return REFUSING_TYPES.includes(failure.type ?? '') && !WAIT_CODES.includes(failure.code ?? '');
}

/**
 * Whether Stripe itself answered 500 (`api_error`): its endpoint ran and failed, and Stripe saves that answer
 * under the Idempotency-Key and replays it to every request with the key for about a day. Only an answer from
 * Stripe's API says no request with the key is still running (Stripe runs one per key at a time); a 502, 503 or
 * 504 may come from a proxy in front of a request still in flight, and a timeout says nothing, so those keep
 * the key, which is what keeps such a request from being made twice. Pure.
 */
export const isSavedServerError = (failure: StripeFailure) =>
  failure.reason === 'http' && failure.status === 500 && failure.type === 'api_error';

/**
 * The Idempotency-Key a request goes out under after Stripe answered `serverErrors` of its tries with a saved
 * 500 (`isSavedServerError`): `key` until the first, then one per such answer, so a retry is not answered from
 * the saved 500 for a day. Only for requests whose object is looked up by `key` (in its metadata) before every
 * try, so an object Stripe made before failing is found, not made again.
 */
export const keyAfterServerErrors = (key: string, serverErrors: number) =>
  serverErrors > 0 ? `${key}-after-server-error-${serverErrors}` : key;

/** What `billing_customers.subscription_refusal` holds. */
export const SubscriptionRefusal = z.object({
  /** The Idempotency-Key of the refused creation. */
  key: z.string(),
  /** The customer the refused creation named (absent in refusals recorded before it was kept). */
  customerId: z.string().optional(),
  /** When Stripe refused it (ms). */
  at: z.number(),
  /** Refusals since a subscription last started: the next creation's key names it (`creationKeyAfter`). */
  refusals: z.number().int().positive(),
  status: z.number().int(),
  type: z.string(),
  code: z.string().optional(),
  declineCode: z.string().optional(),
  param: z.string().optional(),
  message: z.string(),
  requestId: z.string().optional(),
});
export type SubscriptionRefusal = z.infer<typeof SubscriptionRefusal>;

/** Thrown when Stripe refused a subscription creation for good; already recorded and logged. */
export class SubscriptionRefused extends Error {
  constructor(
    readonly orgId: string,
    readonly refusal: SubscriptionRefusal,
  ) {
    super(`Stripe refused the subscription under ${refusal.key}: ${refusal.type}: ${refusal.message}`);
    this.name = 'SubscriptionRefused';
  }
}

export function parseRefusal(raw: string | null | undefined): SubscriptionRefusal | undefined {
  if (!raw) return undefined;
  try {
    const parsed = SubscriptionRefusal.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The Idempotency-Key a creation goes out under: `base` until Stripe refuses one, then a new key per refusal.
 * Stripe saves a refusal's answer under its key when the endpoint ran (a card_error), and replays it to the
 * same request or refuses the key for another: the next creation, computed afresh, needs a key of its own.
 */
export const creationKeyAfter = (base: string, refusal: SubscriptionRefusal | undefined) =>
  refusal ? `${base}-after-refusal-${refusal.refusals}` : base;

// Stripe's messages name objects (cus_…, price_…), never a secret; these are redacted all the same, should one
// ever echo a key.
const SECRET = /\b(sk|rk|pk|whsec)_[A-Za-z0-9_]+/g;

/**
 * Whether Stripe refused the creation because it has no such customer (deleted in Stripe's dashboard): no
 * retry on that customer can pass, so the next creation goes to a new one (`customerForNewCreation`).
 */
export const refusedForMissingCustomer = (refusal: SubscriptionRefusal) =>
  refusal.code === 'resource_missing' && refusal.param === 'customer';

/**
 * What is kept of Stripe's answer to a request it refused for good (a subscription creation, a usage backfill's
 * invoice item): its type, code and message, without anything that looks like a key.
 */
export function refusalOf(
  refused: { key: string; customerId: string },
  failure: StripeFailure,
  previous: SubscriptionRefusal | undefined,
  now: number,
): SubscriptionRefusal {
  return {
    key: refused.key,
    customerId: refused.customerId,
    at: now,
    refusals: (previous?.refusals ?? 0) + 1,
    status: failure.status ?? 400,
    type: failure.type ?? 'invalid_request_error',
    ...(failure.code ? { code: failure.code } : {}),
    ...(failure.declineCode ? { declineCode: failure.declineCode } : {}),
    ...(failure.param ? { param: failure.param } : {}),
    message: failure.message.replace(SECRET, '$1_[redacted]').slice(0, 500),
    ...(failure.requestId ? { requestId: failure.requestId } : {}),
  };
}

/**
 * Records that Stripe refused the org's stored creation (`storedPending`, as stored) for good, and drops it:
 * it is never sent again. The plan changes it was built from (`planChangesUpTo`) are settled as refused with
 * Stripe's reason, so they no longer wait on it; a change queued since, or the next one, starts a creation
 * afresh, under a new key. Logged once, here, for
 * the operator. Returns the error the caller throws.
 */
export async function recordRefusal(
  db: Database,
  logger: Logger | undefined,
  refused: {
    orgId: string;
    key: string;
    customerId: string;
    /** The newest plan change the refused request was built after; undefined: every queued one. */
    planChangesUpTo: number | undefined;
    storedPending: string;
    previous: SubscriptionRefusal | undefined;
  },
  failure: StripeFailure,
  now: number,
): Promise<SubscriptionRefused> {
  const { orgId } = refused;
  const refusal = refusalOf(refused, failure, refused.previous, now);
  const dropped = await db.transaction(async (tx) => {
    const rows = await tx
      .update(billingCustomers)
      .set({ pendingSubscription: null, subscriptionRefusal: JSON.stringify(refusal) })
      .where(
        and(
          eq(billingCustomers.orgId, orgId),
          eq(billingCustomers.pendingSubscription, refused.storedPending),
        ),
      )
      .returning({ orgId: billingCustomers.orgId });
    if (rows.length === 0) return false;
    await tx
      .update(stripePlanChanges)
      .set({
        status: 'refused',
        appliedAt: new Date(now),
        lastError: `Stripe refused to start the subscription: ${refusal.type}${refusal.code ? ` ${refusal.code}` : ''}: ${refusal.message}`,
      })
      .where(
        and(
          eq(stripePlanChanges.orgId, orgId),
          eq(stripePlanChanges.status, 'pending'),
          refused.planChangesUpTo === undefined
            ? undefined
            : lte(stripePlanChanges.id, refused.planChangesUpTo),
        ),
      );
    return true;
  });
  // Another pass already dropped it (and logged): nothing more to say.
  if (dropped) {
    logger?.error(
      'stripe refused to start a subscription; it is not sent again until the plan next changes',
      {
        orgId,
        ...refusal,
      },
    );
  }
  return new SubscriptionRefused(orgId, refusal);
}

/** The org's last refusal still unresolved (no subscription started since), or undefined. */
export async function readRefusal(
  db: Pick<Database, 'select'>,
  orgId: string,
): Promise<SubscriptionRefusal | undefined> {
  const [row] = await db
    .select({ refusal: billingCustomers.subscriptionRefusal })
    .from(billingCustomers)
    .where(eq(billingCustomers.orgId, orgId));
  return parseRefusal(row?.refusal);
}
