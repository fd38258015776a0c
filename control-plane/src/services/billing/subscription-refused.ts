import type { Plan } from '@meridian/protocol';
import { eq } from 'drizzle-orm';
import { orgs } from '../../db/schema.js';
import type { Reader } from '../models/deps.js';
import { PLAN_NAMES } from './pricing.js';
import { readRefusal } from './stripe/subscription-refusal.js';

/** What an org's admins read when Stripe refused to start the org's subscription; null while it has not. */
export interface SubscriptionRefusedView {
  at: string;
  summary: string;
  type: string;
  code: string | null;
  declineCode: string | null;
  message: string;
}

/**
 * How to ask for a new try: an owner chooses the plan the org is on again (`changePlan`). Enterprise is not
 * chosen there: its contract's account manager has an operator change it.
 */
export function howToRetry(plan: Plan): string {
  if (plan === 'enterprise') return 'Once that is fixed, ask your account manager to have it tried again.';
  return (
    `Once that is fixed, an owner can try again by choosing the ${PLAN_NAMES[plan]} plan again: ` +
    `meridian plan set ${plan}, or Change plan on the usage page of the dashboard.`
  );
}

/**
 * Why billing could not start the org's subscription, in Stripe's words (its error type, code and message,
 * nothing else of its answer), and how to try again, until a subscription starts or the plan needs none.
 */
export async function subscriptionRefused(
  db: Reader,
  orgId: string,
): Promise<SubscriptionRefusedView | null> {
  const refusal = await readRefusal(db, orgId);
  if (!refusal) return null;
  const [org] = await db.select({ plan: orgs.plan }).from(orgs).where(eq(orgs.id, orgId));
  const reason = [refusal.type, refusal.code, refusal.declineCode].filter(Boolean).join(', ');
  return {
    at: new Date(refusal.at).toISOString(),
    summary:
      `Billing could not start your subscription: Stripe refused it (${reason}): ${refusal.message} ` +
      howToRetry(org?.plan ?? 'free'),
    type: refusal.type,
    code: refusal.code ?? null,
    declineCode: refusal.declineCode ?? null,
    message: refusal.message,
  };
}
