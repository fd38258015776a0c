import type { AgentMonitoringAck, AgentMonitoringReport } from '@meridian/protocol';
import type { Database } from '../../db/client.js';
import { type DriftSettings, recordDriftSketches } from '../drift/ingest-drift.js';
import { agentMetricDeltas, applyDeltas, claimBatch } from './ingest-metrics.js';

/**
 * Stores an agent's monitoring report once (by agent and report id): its queue and compute figures into the
 * metric rows, its drift sketches into references and windows. A resent report stores nothing.
 */
export async function recordAgentReport(
  db: Database,
  agentId: string,
  report: AgentMonitoringReport,
  drift: DriftSettings,
  now = new Date(),
): Promise<AgentMonitoringAck> {
  const deltas = await agentMetricDeltas(db, report.metrics);
  const accepted = await db.transaction(async (tx) => {
    if (!(await claimBatch(tx, `agent:${agentId}:${report.reportId}`, now))) return false;
    await applyDeltas(tx, deltas);
    await recordDriftSketches(tx, report.drift, drift, now.getTime());
    return true;
  });
  return { reportId: report.reportId, accepted };
}
