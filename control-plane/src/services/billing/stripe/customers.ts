import { METERS } from '@meridian/protocol';
import { and, eq, isNull, or } from 'drizzle-orm';
import type { Database } from '../../../db/client.js';
import { billingCustomers, orgs, stripeOutbox } from '../../../db/schema.js';
import { notFound } from '../../../errors.js';
import type { StripeCatalogue } from './catalogue.js';
import type { StripeGateway } from './gateway.js';

export interface BillingCustomer {
  orgId: string;
  stripeCustomerId: string;
  subscriptionId: string;
}

/**
 * One Stripe customer per org, subscribed to every metered price (and the Pro fee when on Pro). The customer
 * row is stored as soon as Stripe made it, so a crash before the subscription resumes from there; both calls
 * carry Idempotency-Keys derived from the org, so a retry within Stripe's 24 hours creates nothing twice.
 */
export async function ensureCustomer(
  db: Database,
  gateway: StripeGateway,
  catalogue: StripeCatalogue,
  orgId: string,
): Promise<BillingCustomer> {
  const [row] = await db.select().from(billingCustomers).where(eq(billingCustomers.orgId, orgId));
  if (row?.subscriptionId) {
    return { orgId, stripeCustomerId: row.stripeCustomerId, subscriptionId: row.subscriptionId };
  }
  const [org] = await db.select({ name: orgs.name, plan: orgs.plan }).from(orgs).where(eq(orgs.id, orgId));
  if (!org) throw notFound('Organisation');

  let stripeCustomerId = row?.stripeCustomerId;
  if (!stripeCustomerId) {
    stripeCustomerId = await gateway.createCustomer({ orgId, name: org.name }, `customer-${orgId}`);
    await db.insert(billingCustomers).values({ orgId, stripeCustomerId }).onConflictDoNothing();
  }
  const priceIds = METERS.map((meter) => catalogue.meters[meter].priceId);
  if (org.plan === 'pro') priceIds.push(catalogue.proPriceId);
  const subscriptionId = await gateway.createSubscription(
    { customerId: stripeCustomerId, orgId, priceIds },
    `subscription-${orgId}`,
  );
  await db.update(billingCustomers).set({ subscriptionId }).where(eq(billingCustomers.orgId, orgId));
  return { orgId, stripeCustomerId, subscriptionId };
}

/** Orgs with usage waiting in the outbox but no customer or subscription yet. */
export async function orgsAwaitingCustomers(db: Database, limit = 100): Promise<string[]> {
  const rows = await db
    .selectDistinct({ orgId: stripeOutbox.orgId })
    .from(stripeOutbox)
    .leftJoin(billingCustomers, eq(billingCustomers.orgId, stripeOutbox.orgId))
    .where(
      and(
        eq(stripeOutbox.status, 'pending'),
        or(isNull(billingCustomers.orgId), isNull(billingCustomers.subscriptionId)),
      ),
    )
    .limit(limit);
  return rows.map((r) => r.orgId);
}
