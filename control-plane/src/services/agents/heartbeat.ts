import type { AgentHeartbeat, HeartbeatResponse } from '@meridian/protocol';
import { eq, sql } from 'drizzle-orm';
import { agents, agentWorkloadReports } from '../../db/schema.js';
import { notFound } from '../../errors.js';
import type { AgentServiceDeps } from './deps.js';

/**
 * Records that the agent is alive: its inventory and data-plane address now, and its workloads, which replace
 * the ones it reported before (a workload it no longer reports is gone). A lost agent that heartbeats is online
 * again; a draining one stays draining until an operator says otherwise.
 */
export async function recordHeartbeat(
  deps: AgentServiceDeps,
  agentId: string,
  heartbeat: AgentHeartbeat,
  now = new Date(),
): Promise<HeartbeatResponse> {
  const updated = await deps.db.transaction(async (tx) => {
    const [row] = await tx
      .update(agents)
      .set({
        lastHeartbeatAt: now,
        inventory: heartbeat.inventory,
        ...(heartbeat.dataPlaneUrl ? { dataPlaneUrl: heartbeat.dataPlaneUrl } : {}),
        status: sql`case when ${agents.status} = 'draining' then 'draining' else 'online' end`,
      })
      .where(eq(agents.id, agentId))
      .returning({ status: agents.status, desiredVersion: agents.desiredVersion });
    if (!row) throw notFound('Agent');
    await tx.delete(agentWorkloadReports).where(eq(agentWorkloadReports.agentId, agentId));
    if (heartbeat.workloads.length > 0) {
      await tx.insert(agentWorkloadReports).values(
        heartbeat.workloads.map((w) => ({
          agentId,
          workloadId: w.workloadId,
          kind: w.kind,
          phase: w.phase,
          reason: w.reason ?? null,
          startedAt: w.startedAt ? new Date(w.startedAt) : null,
          endpoint: w.endpoint ?? null,
          lastActivityAt: w.lastActivityAt ? new Date(w.lastActivityAt) : null,
          updatedAt: now,
        })),
      );
    }
    return row;
  });
  deps.scheduler?.kick();
  return {
    status: updated.status,
    heartbeatIntervalSeconds: deps.heartbeatIntervalSeconds,
    desiredStateVersion: updated.desiredVersion,
  };
}
