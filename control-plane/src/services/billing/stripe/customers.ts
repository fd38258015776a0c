import { and, eq, isNotNull, isNull, or } from 'drizzle-orm';
import type { Database } from '../../../db/client.js';
import { billingCustomers, orgs, stripeOutbox, stripePlanChanges } from '../../../db/schema.js';
import { notFound } from '../../../errors.js';
import type { Logger } from '../../../lib/logger.js';
import type { StripeCatalogue } from './catalogue.js';
import type { StripeGateway } from './gateway.js';
import { resendToReplacement } from './meter-resend.js';
import { newestPlanChangeId, newSubscriptionFor } from './plan-sync.js';
import { createSubscriptionOnce, storedCreation } from './subscription-creation.js';
import { readRefusal, refusedForMissingCustomer } from './subscription-refusal.js';
import { planUsageBackfill } from './usage-backfill.js';

export interface BillingCustomer {
  orgId: string;
  stripeCustomerId: string;
  subscriptionId: string;
}

/**
 * One Stripe customer per org, subscribed to every metered price (and the Pro fee when on Pro). The customer
 * row is stored as soon as Stripe made it, so a crash before the subscription resumes from there; both calls
 * carry Idempotency-Keys derived from the org, so a retry within Stripe's 24 hours creates nothing twice, and the
 * subscription request is stored before it is first sent, so a retry sends the same one (`createSubscriptionOnce`).
 * The subscription's periods are anchored to the 1st of the next UTC month, the platform's invoice period, the
 * first backdated to the start of this month so it bills the month's usage from before it existed. When Stripe
 * refuses the subscription for good it throws `SubscriptionRefused`, recorded and logged to `logger`.
 */
export async function ensureCustomer(
  db: Database,
  gateway: StripeGateway,
  catalogue: StripeCatalogue,
  orgId: string,
  now = Date.now(),
  logger?: Logger,
): Promise<BillingCustomer> {
  const [row] = await db.select().from(billingCustomers).where(eq(billingCustomers.orgId, orgId));
  if (row?.subscriptionId) {
    return { orgId, stripeCustomerId: row.stripeCustomerId, subscriptionId: row.subscriptionId };
  }
  const readOrg = async () => {
    const [org] = await db.select({ name: orgs.name, plan: orgs.plan }).from(orgs).where(eq(orgs.id, orgId));
    if (!org) throw notFound('Organisation');
    return org;
  };

  let stripeCustomerId = row?.stripeCustomerId;
  if (!stripeCustomerId) {
    stripeCustomerId = await gateway.createCustomer(
      { orgId, name: (await readOrg()).name },
      `customer-${orgId}`,
    );
    await db.insert(billingCustomers).values({ orgId, stripeCustomerId }).onConflictDoNothing();
  }
  // The plan is read once the customer row exists: a plan change committed after this read finds the row and
  // queues a sync, so the subscription never keeps a plan the org has left.
  const planChangesUpTo = await newestPlanChangeId(db, orgId);
  const { plan } = await readOrg();
  const known = stripeCustomerId;
  const subscriptionId = await createSubscriptionOnce(
    { db, gateway, logger, now },
    orgId,
    `subscription-${orgId}`,
    async () => {
      const customerId = await customerForNewCreation({ db, gateway, logger, now }, orgId, known);
      return newSubscriptionFor({ orgId, customerId, plan }, catalogue, now);
    },
    planChangesUpTo,
  );
  // Usage of months before the first period, which no subscription covered, is recorded for billing with it.
  const stored = await db.transaction(async (tx) => {
    const creation = await storedCreation(tx, orgId);
    const [row] = await tx
      .update(billingCustomers)
      .set({ subscriptionId, pendingSubscription: null, subscriptionRefusal: null })
      .where(eq(billingCustomers.orgId, orgId))
      .returning({ stripeCustomerId: billingCustomers.stripeCustomerId });
    if (row && creation) {
      await planUsageBackfill(tx, { orgId, subscriptionId, ...creation, coveredUntil: 0 }, now);
    }
    return row;
  });
  return { orgId, stripeCustomerId: stored?.stripeCustomerId ?? known, subscriptionId };
}

/**
 * The customer a new subscription creation names: the org's, unless Stripe's last refusal said it has no such
 * customer (deleted in Stripe's dashboard), when no try on it can ever pass. Then a new customer is made, under
 * a key naming the refusal (a retry after a crash gets the same one back), and stored in the old one's place,
 * so the creation and the org's meter events from then on go to it; in the same transaction, the month's
 * events sent to the deleted one are set to go again, to it (`resendToReplacement`). Called only to compute a new creation,
 * never for a stored one being resent.
 */
export async function customerForNewCreation(
  deps: { db: Database; gateway: StripeGateway; logger?: Logger | undefined; now: number },
  orgId: string,
  customerId: string,
): Promise<string> {
  const { db, gateway } = deps;
  const refusal = await readRefusal(db, orgId);
  if (!refusal || refusal.customerId !== customerId || !refusedForMissingCustomer(refusal)) return customerId;
  const [org] = await db.select({ name: orgs.name }).from(orgs).where(eq(orgs.id, orgId));
  if (!org) throw notFound('Organisation');
  const replacement = await gateway.createCustomer(
    { orgId, name: org.name },
    `customer-${orgId}-after-refusal-${refusal.refusals}`,
  );
  const resent = await db.transaction(async (tx) => {
    const swapped = await tx
      .update(billingCustomers)
      .set({ stripeCustomerId: replacement })
      .where(and(eq(billingCustomers.orgId, orgId), eq(billingCustomers.stripeCustomerId, customerId)))
      .returning({ orgId: billingCustomers.orgId });
    if (swapped.length === 0) return undefined;
    return resendToReplacement(tx, { orgId, deleted: customerId, replacement }, deps.now);
  });
  if (resent !== undefined) {
    deps.logger?.warn('stripe customer replaced: Stripe had no such customer', {
      orgId,
      deleted: customerId,
      customer: replacement,
      meterEventsResent: resent,
    });
  }
  const [row] = await db
    .select({ customerId: billingCustomers.stripeCustomerId })
    .from(billingCustomers)
    .where(eq(billingCustomers.orgId, orgId));
  return row?.customerId ?? replacement;
}

/**
 * Orgs with usage waiting in the outbox but no customer or subscription yet, and orgs whose first subscription
 * creation is pending: its answer was lost, and the usage that started billing may since have reached Stripe
 * (meter events need only the customer), yet Stripe may have made the subscription, which must be recorded
 * (and then follow the org's plan) rather than go on charging unseen. An org whose creation Stripe refused for
 * good is listed again only once its plan changes after the refusal (a queued plan change): waiting usage alone
 * would start a creation, refused alike, every hour that has usage.
 */
export async function orgsAwaitingCustomers(db: Database, limit = 100): Promise<string[]> {
  const noSubscription = isNull(billingCustomers.subscriptionId);
  const pending = await db
    .select({ orgId: billingCustomers.orgId })
    .from(billingCustomers)
    .where(and(isNotNull(billingCustomers.pendingSubscription), noSubscription))
    .limit(limit);
  const replanned = await db
    .selectDistinct({ orgId: billingCustomers.orgId })
    .from(billingCustomers)
    .innerJoin(stripePlanChanges, eq(stripePlanChanges.orgId, billingCustomers.orgId))
    .where(
      and(
        noSubscription,
        isNotNull(billingCustomers.subscriptionRefusal),
        eq(stripePlanChanges.status, 'pending'),
      ),
    )
    .limit(limit);
  const rows = await db
    .selectDistinct({ orgId: stripeOutbox.orgId })
    .from(stripeOutbox)
    .leftJoin(billingCustomers, eq(billingCustomers.orgId, stripeOutbox.orgId))
    .where(
      and(
        eq(stripeOutbox.status, 'pending'),
        or(isNull(billingCustomers.orgId), and(noSubscription, isNull(billingCustomers.subscriptionRefusal))),
      ),
    )
    .limit(limit);
  return [...new Set([...pending, ...replanned, ...rows].map((r) => r.orgId))].slice(0, limit);
}
