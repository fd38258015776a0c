import { count, eq } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { agents, workloads } from '../../db/schema.js';
import { notFound } from '../../errors.js';

const summaryColumns = {
  id: agents.id,
  hostname: agents.hostname,
  status: agents.status,
  dataPlaneUrl: agents.dataPlaneUrl,
  inventory: agents.inventory,
  lastHeartbeatAt: agents.lastHeartbeatAt,
  workloads: count(workloads.id),
};

type SummaryRow = {
  id: string;
  hostname: string;
  status: 'online' | 'lost' | 'draining';
  dataPlaneUrl: string;
  inventory: { gpus: unknown[] };
  lastHeartbeatAt: Date;
  workloads: number;
};

const toSummary = ({ inventory, lastHeartbeatAt, ...row }: SummaryRow) => ({
  ...row,
  gpus: inventory.gpus.length,
  lastHeartbeatAt: lastHeartbeatAt.toISOString(),
});

export async function listAgents(db: Database) {
  const rows = await db
    .select(summaryColumns)
    .from(agents)
    .leftJoin(workloads, eq(workloads.agentId, agents.id))
    .groupBy(agents.id)
    .orderBy(agents.id);
  return rows.map(toSummary);
}

/**
 * Marks the agent draining: the scheduler places nothing new there and replaces its replicas elsewhere,
 * retiring each one only once its replacement is ready. It stays draining, heartbeats or not, until removed.
 */
export async function drainAgent(db: Database, agentId: string) {
  const updated = await db
    .update(agents)
    .set({ status: 'draining' })
    .where(eq(agents.id, agentId))
    .returning();
  if (updated.length === 0) throw notFound('Agent');
  const [row] = await db
    .select(summaryColumns)
    .from(agents)
    .leftJoin(workloads, eq(workloads.agentId, agents.id))
    .where(eq(agents.id, agentId))
    .groupBy(agents.id);
  if (!row) throw notFound('Agent');
  return toSummary(row);
}
