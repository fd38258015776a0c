import { PLAN_LIMITS, type Plan } from '@meridian/protocol';
import { count, eq } from 'drizzle-orm';
import { models, orgs } from '../../db/schema.js';
import { forbidden, notFound } from '../../errors.js';
import { PLAN_NAMES } from '../billing/pricing.js';
import type { Reader } from './deps.js';

const NEXT_STEP: Record<Plan, string> = {
  free: 'Upgrade to Pro (10 models) with `meridian plan set pro` (or PUT /v1/billing/plan {"plan":"pro"}), or delete a model first.',
  pro: 'Ask us about Enterprise (no platform limit), or delete a model first.',
  enterprise: 'Delete a model first.',
};

/**
 * Refuses one more model beyond the plan's limit (403 `forbidden`, naming the plan and how to upgrade).
 * 403 rather than 402: nothing is unpaid, the plan does not include it; 402 is what the edge answers a
 * suspended org, and clients should not mistake one for the other. Runs in the create's transaction.
 */
export async function assertModelAllowed(tx: Reader, orgId: string): Promise<void> {
  const [org] = await tx.select({ plan: orgs.plan }).from(orgs).where(eq(orgs.id, orgId));
  if (!org) throw notFound('Organisation');
  const limit = PLAN_LIMITS[org.plan].models;
  if (limit === null) return;
  const [row] = await tx.select({ n: count() }).from(models).where(eq(models.orgId, orgId));
  const held = row?.n ?? 0;
  if (held < limit) return;
  const plural = limit === 1 ? 'model' : 'models';
  throw forbidden(
    `The ${PLAN_NAMES[org.plan]} plan allows ${limit} ${plural} and this organisation has ${held}. ${NEXT_STEP[org.plan]}`,
  );
}
