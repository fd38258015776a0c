import type { DesiredWorkload } from '@meridian/protocol';
import { and, eq, inArray } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { agentDeployments, deployments } from '../../db/schema.js';

/** Records that `agentId` was told to serve the deployments of `workloads` (once per pair, kept for good). */
export async function recordPlacements(
  db: Database,
  agentId: string,
  workloads: readonly DesiredWorkload[],
  now = new Date(),
): Promise<void> {
  const ids = [...new Set(workloads.flatMap((w) => (w.kind === 'model' ? [w.deploymentId] : [])))];
  if (ids.length === 0) return;
  const owned = await db
    .select({ deploymentId: deployments.id, orgId: deployments.orgId })
    .from(deployments)
    .where(inArray(deployments.id, ids));
  if (owned.length === 0) return;
  await db
    .insert(agentDeployments)
    .values(owned.map((d) => ({ agentId, ...d, firstPlacedAt: now })))
    .onConflictDoNothing();
}

/** The (deployment, org) pairs of `deploymentIds` placed on `agentId` at some time, as `dep/org` strings. */
export async function placedOn(db: Database, agentId: string, deploymentIds: string[]): Promise<Set<string>> {
  if (deploymentIds.length === 0) return new Set();
  const rows = await db
    .select({ deploymentId: agentDeployments.deploymentId, orgId: agentDeployments.orgId })
    .from(agentDeployments)
    .where(and(eq(agentDeployments.agentId, agentId), inArray(agentDeployments.deploymentId, deploymentIds)));
  return new Set(rows.map((r) => `${r.deploymentId}/${r.orgId}`));
}
