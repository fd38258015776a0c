import type { AgentMonitoringAck, AgentMonitoringReport } from '@meridian/protocol';
import type { Database } from '../../db/client.js';
import { placedOn } from '../agents/placements.js';
import { type DriftSettings, recordDriftSketches } from '../drift/ingest-drift.js';
import { agentMetricDeltas, applyDeltas, claimBatch } from './ingest-metrics.js';

/**
 * Stores an agent's monitoring report once (by agent and report id): its queue and compute figures into the
 * metric rows, its drift sketches into references and windows. A resent report stores nothing. Only
 * deployments ever placed on this agent count, as for billed usage: an agent cannot write another
 * tenant's figures or drift.
 */
export async function recordAgentReport(
  db: Database,
  agentId: string,
  report: AgentMonitoringReport,
  drift: DriftSettings,
  now = new Date(),
): Promise<AgentMonitoringAck> {
  const placed = await deploymentsPlacedOn(db, agentId, [
    ...report.metrics.map((m) => m.deploymentId),
    ...report.drift.map((d) => d.deploymentId),
  ]);
  const metrics = report.metrics.filter((m) => placed.has(m.deploymentId));
  const sketches = report.drift.filter((d) => placed.has(d.deploymentId));
  const deltas = await agentMetricDeltas(db, metrics);
  const accepted = await db.transaction(async (tx) => {
    if (!(await claimBatch(tx, `agent:${agentId}:${report.reportId}`, now))) return false;
    await applyDeltas(tx, deltas);
    await recordDriftSketches(tx, sketches, drift, now.getTime());
    return true;
  });
  return { reportId: report.reportId, accepted };
}

const CHUNK = 500;

async function deploymentsPlacedOn(db: Database, agentId: string, ids: string[]): Promise<Set<string>> {
  const unique = [...new Set(ids)];
  const placed = new Set<string>();
  for (let i = 0; i < unique.length; i += CHUNK)
    for (const pair of await placedOn(db, agentId, unique.slice(i, i + CHUNK)))
      placed.add(pair.split('/')[0] ?? '');
  return placed;
}
