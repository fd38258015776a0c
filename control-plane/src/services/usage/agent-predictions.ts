import type { PredictionUsageAck, PredictionUsageReport, UsageRecord } from '@meridian/protocol';
import { inArray } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { apiKeys } from '../../db/schema.js';
import type { Logger } from '../../lib/logger.js';
import { placedOn } from '../agents/placements.js';
import { isBatchJobCaller } from '../batch/caller.js';
import { recordEdgeUsage } from './edge-usage.js';

// Ids per `in (…)` list: well under SQLite's bound-parameter limit.
const CHUNK = 500;

/** The batch an agent's report part is stored as, beside the edge's batches in the same ledger. */
export const agentBatchId = (agentId: string, seq: number, part: number) => `agent:${agentId}:${seq}:${part}`;

/**
 * Stores the prediction calls an agent reports, exactly as an edge batch of the same records would be
 * (`recordEdgeUsage`: one ledger entry per record, the keys' last use moved on), once per (agent, seq, part).
 * An agent bills only what it served: a record is refused unless its deployment was placed on this agent and
 * belongs to the record's org, its caller is one key or one user, and the key is the org's.
 */
export async function recordAgentPredictions(
  deps: { db: Database; logger?: Logger },
  agentId: string,
  report: PredictionUsageReport,
  now = new Date(),
): Promise<PredictionUsageAck> {
  // Batch lines name their job as the caller: the job bills them itself, once, with its shard's checkpoint.
  const records = report.records.filter((r) => !isBatchJobCaller(r));
  const allowed = await billable(deps.db, agentId, records);
  const refused = records.length - allowed.length;
  if (refused > 0)
    deps.logger?.warn('agent prediction usage refused: not billable by this agent', {
      agentId,
      seq: report.seq,
      part: report.part,
      refused,
    });
  const base = { seq: report.seq, part: report.part, refused };
  if (allowed.length === 0) return { ...base, accepted: true, stored: 0 };
  const ack = await recordEdgeUsage(
    deps.db,
    { batchId: agentBatchId(agentId, report.seq, report.part), records: allowed },
    now,
  );
  return { ...base, accepted: ack.accepted, stored: ack.accepted ? allowed.length : 0 };
}

async function billable(
  db: Database,
  agentId: string,
  records: readonly UsageRecord[],
): Promise<UsageRecord[]> {
  const deploymentIds = [...new Set(records.map((r) => r.deploymentId))];
  const placed = new Set<string>();
  for (let i = 0; i < deploymentIds.length; i += CHUNK)
    for (const pair of await placedOn(db, agentId, deploymentIds.slice(i, i + CHUNK))) placed.add(pair);
  const keyIds = [...new Set(records.flatMap((r) => (r.keyId === null ? [] : [r.keyId])))];
  const keyOrg = new Map<string, string>();
  for (let i = 0; i < keyIds.length; i += CHUNK) {
    const rows = await db
      .select({ id: apiKeys.id, orgId: apiKeys.orgId })
      .from(apiKeys)
      .where(inArray(apiKeys.id, keyIds.slice(i, i + CHUNK)));
    for (const row of rows) keyOrg.set(row.id, row.orgId);
  }
  return records.filter(
    (r) =>
      placed.has(`${r.deploymentId}/${r.orgId}`) &&
      (r.keyId === null) !== (r.userId === null) &&
      (r.keyId === null || keyOrg.get(r.keyId) === r.orgId),
  );
}
