import { eq } from 'drizzle-orm';
import { afterEach, beforeEach } from 'vitest';
import { stripePlanChanges } from '../src/db/schema.js';
import { setOrgStanding } from '../src/services/orgs/standing.js';
import { createStripeTestbed, type StripeTestbed } from './stripe.js';
import { createTestApp, type Session } from './test-app.js';

/** Stripe's subscription creations, as the stand-in's request filters and failures name them. */
export const SUBSCRIPTION_CREATIONS = { method: 'POST', path: '/v1/subscriptions' };

/** A Pro control plane, the Stripe stand-in on its database, and the org's owner: one of each per test. */
export interface RefusalWorld {
  t: Awaited<ReturnType<typeof createTestApp>>;
  stripe: StripeTestbed;
  owner: Session;
}

/**
 * The set-up the tests of refused subscriptions share: registers the hooks that make and clean a world per
 * test (a file's own `beforeEach`, registered after, sees it made), and what those tests read of it.
 */
export function useRefusalWorld() {
  const world = {} as RefusalWorld;
  beforeEach(async () => {
    world.t = await createTestApp({ plan: 'pro' });
    world.stripe = await createStripeTestbed({ db: world.t.db });
    world.owner = await world.t.client.register('owner');
  });
  afterEach(async () => {
    await world.stripe.cleanup();
    world.t.cleanup();
  });
  return {
    world,
    /** Every subscription creation the stand-in received, resends included. */
    creations: () =>
      world.stripe.server.requests.filter(
        (r) => r.method === SUBSCRIPTION_CREATIONS.method && r.path === SUBSCRIPTION_CREATIONS.path,
      ),
    /** The owner's org's queued plan changes, oldest first. */
    planChanges: () =>
      world.t.db
        .select()
        .from(stripePlanChanges)
        .where(eq(stripePlanChanges.orgId, world.owner.orgId))
        .orderBy(stripePlanChanges.id),
    /** Stripe ends the org's subscription and its webhook drops the org to Free; the ended one's id. */
    endSubscription: async () => {
      const { stripe, owner, t } = world;
      const ended = await stripe.subscriptionOf(owner.orgId);
      Object.assign(stripe.server.state.subscriptions.get(ended) ?? {}, {
        status: 'canceled',
        ended_at: stripe.server.state.nowSeconds(),
      });
      await setOrgStanding(t.db, owner.orgId, { plan: 'free' }, { syncStripe: false });
      return ended;
    },
  };
}
