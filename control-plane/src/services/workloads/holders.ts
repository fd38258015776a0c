import { and, eq, isNotNull, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { workloads } from '../../db/schema.js';
import { markDesiredStateChanged } from '../agents/desired-state.js';
import type { DesiredStateChanges } from '../agents/desired-state-changes.js';

/** Which workloads to look at: those of one deployment or of one notebook. */
export type WorkloadOwner = { deploymentId: string } | { notebookId: string };

const ownedBy = (owner: WorkloadOwner): SQL =>
  'deploymentId' in owner
    ? eq(workloads.deploymentId, owner.deploymentId)
    : eq(workloads.notebookId, owner.notebookId);

/** The agents that hold a workload of `owner` now; read before deleting it, as the delete cascades. */
export async function agentsHolding(
  db: Pick<Database, 'selectDistinct'>,
  owner: WorkloadOwner,
): Promise<string[]> {
  const rows = await db
    .selectDistinct({ agentId: workloads.agentId })
    .from(workloads)
    .where(and(ownedBy(owner), isNotNull(workloads.agentId)));
  return rows.flatMap((r) => (r.agentId === null ? [] : [r.agentId]));
}

/** Moves each agent's desired-state version on, so its next poll drops the workloads that went away. */
export async function notifyAgents(db: Database, changes: DesiredStateChanges, agentIds: string[]) {
  for (const agentId of agentIds) await markDesiredStateChanged(db, changes, agentId);
}
