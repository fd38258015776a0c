import type { Plan } from '@meridian/protocol';
import { and, asc, eq, inArray, isNotNull, isNull, lte } from 'drizzle-orm';
import type { Database } from '../../../db/client.js';
import { billingCustomers, orgs, stripePlanChanges } from '../../../db/schema.js';
import type { Logger } from '../../../lib/logger.js';
import { type BackoffPolicy, DEFAULT_BACKOFF, retryDelayMs } from './backoff.js';
import type { StripeCatalogue } from './catalogue.js';
import { customerForNewCreation } from './customers.js';
import type { StripeFailure, StripeGateway } from './gateway.js';
import {
  itemChangesFor,
  newSubscriptionFor,
  PLAN_CHANGE_PRORATION,
  subscriptionPricesFor,
} from './plan-sync.js';
import {
  type CreationContext,
  createSubscriptionOnce,
  resumeSubscriptionCreation,
  storedCreation,
} from './subscription-creation.js';
import { SubscriptionRefused } from './subscription-refusal.js';
import { planUsageBackfill } from './usage-backfill.js';

export interface PlanChangeOptions {
  now: number;
  logger: Logger;
  backoff?: BackoffPolicy;
  /** Rows read per pass. Default 200. */
  batchSize?: number;
}

export interface PlanChangeResult {
  /** Subscriptions Stripe updated. */
  updated: number;
  /** Orgs whose subscription already matched their plan (a retry after Stripe applied it, or a change undone). */
  alreadyInStep: number;
  failed: number;
  /** Orgs whose plan needed a subscription Stripe refused for good: their queued changes settled as refused. */
  refused: number;
}

interface DueOrg {
  orgId: string;
  customerId: string;
  subscriptionId: string;
  /** The org's newest due row: its id and attempts name the Stripe call. */
  newest: { id: number; attempts: number };
  ids: number[];
}

/** Due rows of orgs whose subscription exists, one entry per org; rows wait while the subscription is made. */
async function dueOrgs(db: Database, now: number, limit: number): Promise<DueOrg[]> {
  const rows = await db
    .select({
      id: stripePlanChanges.id,
      orgId: stripePlanChanges.orgId,
      attempts: stripePlanChanges.attempts,
      customerId: billingCustomers.stripeCustomerId,
      subscriptionId: billingCustomers.subscriptionId,
    })
    .from(stripePlanChanges)
    .innerJoin(billingCustomers, eq(billingCustomers.orgId, stripePlanChanges.orgId))
    .where(
      and(
        eq(stripePlanChanges.status, 'pending'),
        lte(stripePlanChanges.nextAttemptAt, new Date(now)),
        isNotNull(billingCustomers.subscriptionId),
      ),
    )
    .orderBy(asc(stripePlanChanges.id))
    .limit(limit);
  const byOrg = new Map<string, DueOrg>();
  for (const row of rows) {
    const found = byOrg.get(row.orgId);
    const newest = { id: row.id, attempts: row.attempts };
    if (found) {
      found.newest = newest;
      found.ids.push(row.id);
    } else {
      byOrg.set(row.orgId, {
        orgId: row.orgId,
        customerId: row.customerId,
        subscriptionId: row.subscriptionId ?? '',
        newest,
        ids: [row.id],
      });
    }
  }
  return [...byOrg.values()];
}

/**
 * Makes each subscription with a pending plan change match the org's plan as it reads now. The update is
 * computed from the items Stripe holds, so it is idempotent by itself: a retry after Stripe applied it (a crash,
 * a lost answer) finds nothing to change and sends nothing. Its Idempotency-Key names the org's newest row and
 * attempt, so a resend of an attempt cut short replays Stripe's answer rather than applying twice. Rows read
 * before the plan are settled; a change committed meanwhile stays pending for the next pass.
 */
export async function applyPlanChanges(
  db: Database,
  gateway: StripeGateway,
  catalogue: StripeCatalogue,
  options: PlanChangeOptions,
): Promise<PlanChangeResult> {
  const { now, logger } = options;
  const result: PlanChangeResult = { updated: 0, alreadyInStep: 0, failed: 0, refused: 0 };
  const ctx: CreationContext = { db, gateway, logger, now };
  for (const listed of await dueOrgs(db, now, options.batchSize ?? 200)) {
    let due = listed;
    try {
      due = await adoptPendingRenewal(ctx, listed);
      const [org] = await db.select({ plan: orgs.plan }).from(orgs).where(eq(orgs.id, due.orgId));
      const subscription = await gateway.getSubscription(due.subscriptionId);
      // An ended subscription bills nothing more: nothing to follow (a cancellation drops the org to Free).
      const ended = ['canceled', 'incomplete_expired'].includes(subscription.status);
      if (org && ended && subscriptionPricesFor(org.plan, catalogue).fee) {
        // The org chose a paid plan after Stripe ended its subscription: without a new one, nothing would
        // charge the fee.
        // Backdated no further than where the ended one stopped: no usage is billed by both.
        const endedAt = subscription.endedAt === null ? now : subscription.endedAt * 1000;
        await renewSubscription(ctx, catalogue, due, org.plan, endedAt);
        await settle(db, due, now, `subscription ${subscription.status}: a new one was started`);
        result.updated += 1;
        logger.info('stripe subscription started again for the plan', { orgId: due.orgId, plan: org.plan });
        continue;
      }
      const changes = org && !ended ? itemChangesFor(subscription.items, org.plan, catalogue) : [];
      if (changes.length === 0) {
        // An ended subscription and a plan without a fee: no subscription is wanted, so none was refused.
        if (ended) await clearRefusal(db, due.orgId);
        await settle(db, due, now, ended ? `subscription ${subscription.status}: nothing changed` : null);
        result.alreadyInStep += 1;
        continue;
      }
      const outcome = await gateway.updateSubscriptionItems(
        { subscriptionId: due.subscriptionId, changes, prorationBehavior: PLAN_CHANGE_PRORATION },
        `plan-change-${due.newest.id}-${due.newest.attempts}`,
      );
      if (outcome.kind === 'failed') {
        await fail(db, due, now, options.backoff ?? DEFAULT_BACKOFF, outcome, logger);
        result.failed += 1;
        continue;
      }
      await settle(db, due, now, null);
      result.updated += 1;
      logger.info('stripe subscription follows the plan', { orgId: due.orgId, plan: org?.plan, changes });
    } catch (error) {
      // Recorded and logged where Stripe refused it, the org's queued changes settled as refused: nothing to
      // retry until the plan changes again.
      if (error instanceof SubscriptionRefused) {
        result.refused += 1;
        continue;
      }
      // A failed read of the subscription: waited out like a failed update.
      const failure: StripeFailure = { kind: 'failed', reason: 'network', message: String(error) };
      await fail(db, due, now, options.backoff ?? DEFAULT_BACKOFF, failure, logger);
      result.failed += 1;
    }
  }
  return result;
}

/** A renewal's Idempotency-Key names the ended subscription it replaces. */
const renewalKey = (due: DueOrg) => `subscription-${due.orgId}-after-${due.subscriptionId}`;

/**
 * Records the subscription a renewal made whose answer was lost, before the org's plan is read: the org may
 * have left the paid plan since, and a renewal dropped then would leave a subscription Stripe made with the fee,
 * never recorded, so never changed and charging on. Adopted, it is then brought to the org's plan as it reads
 * now, like any other (`resumeSubscriptionCreation`: adopted from Stripe's list, else the stored request sent
 * again). Returns `due` naming the subscription to follow.
 */
async function adoptPendingRenewal(ctx: CreationContext, due: DueOrg): Promise<DueOrg> {
  const made = await resumeSubscriptionCreation(ctx, due.orgId, renewalKey(due));
  if (made === undefined) return due;
  const { endedAt } = await ctx.gateway.getSubscription(due.subscriptionId);
  await storeRenewal(ctx, due, made, endedAt === null ? ctx.now : endedAt * 1000);
  ctx.logger?.info('stripe subscription from an earlier renewal recorded', {
    orgId: due.orgId,
    subscription: made,
  });
  return { ...due, subscriptionId: made };
}

/**
 * Replaces the ended subscription with the one started in its place, and clears the request that made it and
 * any earlier refusal; usage between the ended one's end (`endedAt`, ms) and the new one's first month, which
 * neither covers, is recorded for billing with it (`planUsageBackfill`).
 */
async function storeRenewal(ctx: CreationContext, due: DueOrg, subscriptionId: string, endedAt: number) {
  await ctx.db.transaction(async (tx) => {
    const creation = await storedCreation(tx, due.orgId);
    const replaced = await tx
      .update(billingCustomers)
      .set({ subscriptionId, pendingSubscription: null, subscriptionRefusal: null })
      .where(
        and(eq(billingCustomers.orgId, due.orgId), eq(billingCustomers.subscriptionId, due.subscriptionId)),
      )
      .returning({ orgId: billingCustomers.orgId });
    if (replaced.length === 0 || !creation) return;
    const started = { orgId: due.orgId, subscriptionId, ...creation, coveredUntil: endedAt };
    await planUsageBackfill(tx, started, ctx.now);
  });
}

/**
 * Starts a subscription on the org's plan in place of the one Stripe ended. Its Idempotency-Key names the
 * ended subscription, so a retry after a crash before the new id was stored gets the same subscription back
 * (finished by `adoptPendingRenewal` before the plan is read, whatever the plan is by then),
 * and a later renewal (after the new one ends too) gets a new one; the request is stored before it is first sent,
 * so a retry sends the same one (`createSubscriptionOnce`). Only the ended subscription is replaced. It is
 * anchored like a first subscription, to the 1st of the next UTC month, and backdated to the start of this month
 * or, when later, to when the ended one ended (ms). A customer Stripe said it no longer has is replaced first
 * (`customerForNewCreation`).
 */
async function renewSubscription(
  ctx: CreationContext,
  catalogue: StripeCatalogue,
  due: DueOrg,
  plan: Plan,
  endedAt: number,
) {
  const fresh = async () => {
    const customerId = await customerForNewCreation(ctx, due.orgId, due.customerId);
    return newSubscriptionFor({ orgId: due.orgId, customerId, plan }, catalogue, ctx.now, endedAt);
  };
  // The org's due rows were read before its plan: a refusal settles them, and leaves any queued since.
  const subscriptionId = await createSubscriptionOnce(ctx, due.orgId, renewalKey(due), fresh, due.newest.id);
  await storeRenewal(ctx, due, subscriptionId, endedAt);
}

/** Forgets the org's last refusal: its plan no longer wants the subscription Stripe refused. */
async function clearRefusal(db: Database, orgId: string) {
  await db
    .update(billingCustomers)
    .set({ subscriptionRefusal: null })
    .where(and(eq(billingCustomers.orgId, orgId), isNull(billingCustomers.pendingSubscription)));
}

async function settle(db: Database, due: DueOrg, now: number, note: string | null) {
  await db
    .update(stripePlanChanges)
    .set({ status: 'applied', appliedAt: new Date(now), lastError: note })
    .where(and(inArray(stripePlanChanges.id, due.ids), eq(stripePlanChanges.status, 'pending')));
}

async function fail(
  db: Database,
  due: DueOrg,
  now: number,
  policy: BackoffPolicy,
  failure: StripeFailure,
  logger: Logger,
) {
  const attempts = due.newest.attempts + 1;
  const lastError =
    `${failure.reason}${failure.status ? ` ${failure.status}` : ''}: ${failure.message}`.slice(0, 500);
  const transient = failure.reason !== 'http' || (failure.status ?? 500) >= 500 || failure.status === 409;
  (transient ? logger.warn : logger.error)('stripe plan change failed', {
    orgId: due.orgId,
    attempts,
    ...failure,
  });
  await db
    .update(stripePlanChanges)
    .set({
      attempts,
      nextAttemptAt: new Date(now + retryDelayMs(attempts, policy, failure.retryAfterMs)),
      lastError,
    })
    .where(inArray(stripePlanChanges.id, due.ids));
}
