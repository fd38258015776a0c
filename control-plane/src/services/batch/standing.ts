import { and, eq, gte, sum } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { ledgerEntries } from '../../db/schema.js';
import { getOrgStatus } from '../orgs/standing.js';

/** Whether an org's lines may run now: suspended orgs pause; `remaining` is its monthly quota left (null: none). */
export async function orgAllowance(db: Database, orgId: string, now = new Date()) {
  const status = await getOrgStatus(db, orgId);
  if (status.monthlyCallQuota === null) return { suspended: status.suspended, remaining: null, quota: null };
  const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  // The ledger holds every call billed so far: the edge's and agents' reports, and batch lines. Calls the
  // edge has granted but not yet reported are not in it; the edge's own limiter bounds those.
  const [row] = await db
    .select({ used: sum(ledgerEntries.quantity) })
    .from(ledgerEntries)
    .where(
      and(
        eq(ledgerEntries.orgId, orgId),
        eq(ledgerEntries.meter, 'inference_calls'),
        gte(ledgerEntries.windowStart, monthStart),
      ),
    );
  const used = Number(row?.used ?? 0);
  return {
    suspended: status.suspended,
    remaining: Math.max(0, status.monthlyCallQuota - used),
    quota: status.monthlyCallQuota,
  };
}
