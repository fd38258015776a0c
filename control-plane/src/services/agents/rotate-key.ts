import { eq, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { agents } from '../../db/schema.js';
import { notFound } from '../../errors.js';
import type { SchedulerTrigger } from '../scheduler/trigger.js';
import { markDesiredStateChanged } from './desired-state.js';
import type { DesiredStateChanges } from './desired-state-changes.js';

/**
 * Moves an agent to the next data-plane key generation. The agent gets the new key with its desired state
 * (its long poll wakes now) and accepts the previous one for a grace period; the scheduler's next tick puts
 * the generation in the routing snapshot, and the edge signs with the new key from its next routing pull.
 */
export async function rotateDataPlaneKey(
  deps: { db: Database; changes: DesiredStateChanges; scheduler?: SchedulerTrigger | undefined },
  agentId: string,
): Promise<{ agentId: string; generation: number }> {
  const [row] = await deps.db
    .update(agents)
    .set({ dataPlaneKeyGeneration: sql`${agents.dataPlaneKeyGeneration} + 1` })
    .where(eq(agents.id, agentId))
    .returning({ generation: agents.dataPlaneKeyGeneration });
  if (!row) throw notFound('Agent');
  await markDesiredStateChanged(deps.db, deps.changes, agentId);
  deps.scheduler?.kick();
  return { agentId, generation: row.generation };
}
