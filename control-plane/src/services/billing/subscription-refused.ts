import type { Reader } from '../models/deps.js';
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
 * Why billing could not start the org's subscription, in Stripe's words (its error type, code and message,
 * nothing else of its answer), until a subscription starts or the plan needs none.
 */
export async function subscriptionRefused(
  db: Reader,
  orgId: string,
): Promise<SubscriptionRefusedView | null> {
  const refusal = await readRefusal(db, orgId);
  if (!refusal) return null;
  const reason = [refusal.type, refusal.code, refusal.declineCode].filter(Boolean).join(', ');
  return {
    at: new Date(refusal.at).toISOString(),
    summary:
      `Billing could not start your subscription: Stripe refused it (${reason}): ${refusal.message} ` +
      'It is tried again when the plan next changes.',
    type: refusal.type,
    code: refusal.code ?? null,
    declineCode: refusal.declineCode ?? null,
    message: refusal.message,
  };
}
