import type { UsageAck, UsageReport } from '@meridian/protocol';
import { and, eq, inArray, lt } from 'drizzle-orm';
import { agents, agentUsageEntries, agentUsageReports, workloadOwners } from '../../db/schema.js';
import { notFound } from '../../errors.js';
import type { Logger } from '../../lib/logger.js';
import { type AgentFact, agentEntries, type WorkloadOwner } from '../billing/entries.js';
import { appendLedgerEntries, type Tx } from '../billing/ledger.js';
import type { AgentServiceDeps } from './deps.js';

// Rows per insert statement: 8 values each stays well under SQLite's bound-parameter limit.
const CHUNK = 200;

/**
 * Counts a usage report exactly once. The agent's `last_usage_seq` only moves up, by a conditional update,
 * so a retried report (same seq) or a late older one changes no row and is acknowledged without being
 * stored again; the (agent, seq) primary key backs this up.
 *
 * The same transaction appends the report's ledger entries (`agent:<agentId>:<seq>:<idx>`), billed to the
 * workload's owner as `workload_owners` keeps it, however long ago the workload was removed. An entry whose
 * workload has no owner row cannot be billed to anyone: it stays in the raw entries and is logged, not billed.
 * `logger` is optional because the agent routes' deps may not carry one.
 */
export async function recordUsage(
  deps: AgentServiceDeps & { logger?: Logger },
  agentId: string,
  report: UsageReport,
  now = new Date(),
): Promise<UsageAck> {
  let unowned: AgentFact[] = [];
  const ack = await deps.db.transaction(async (tx): Promise<UsageAck> => {
    const advanced = await tx
      .update(agents)
      .set({ lastUsageSeq: report.seq })
      .where(and(eq(agents.id, agentId), lt(agents.lastUsageSeq, report.seq)));
    if (advanced.rowsAffected === 0) {
      const [row] = await tx
        .select({ lastSeq: agents.lastUsageSeq })
        .from(agents)
        .where(eq(agents.id, agentId));
      if (!row) throw notFound('Agent');
      return { seq: report.seq, accepted: false, lastSeq: row.lastSeq };
    }
    await tx
      .insert(agentUsageReports)
      .values({ agentId, seq: report.seq, entries: report.entries, receivedAt: now });
    const rows = report.entries.map((e, idx) => ({
      agentId,
      seq: report.seq,
      idx,
      workloadId: e.workloadId,
      gpuType: e.gpuType,
      seconds: e.seconds,
      fromAt: new Date(e.from),
      toAt: new Date(e.to),
    }));
    for (let i = 0; i < rows.length; i += CHUNK) {
      await tx.insert(agentUsageEntries).values(rows.slice(i, i + CHUNK));
    }
    const facts = rows.map((r) => ({ ...r, from: r.fromAt.getTime(), to: r.toAt.getTime() }));
    const owners = await ownersOf(tx, [...new Set(rows.map((r) => r.workloadId))]);
    const billed = agentEntries(agentId, report.seq, facts, owners);
    await appendLedgerEntries(tx, billed.entries);
    unowned = billed.unowned;
    return { seq: report.seq, accepted: true, lastSeq: report.seq };
  });
  if (unowned.length > 0) {
    deps.logger?.warn('usage of workloads without an owner is not billed', {
      agentId,
      seq: report.seq,
      workloadIds: [...new Set(unowned.map((f) => f.workloadId))],
      seconds: unowned.reduce((sum, f) => sum + f.seconds, 0),
    });
  }
  return ack;
}

async function ownersOf(tx: Tx, workloadIds: string[]): Promise<Map<string, WorkloadOwner>> {
  if (workloadIds.length === 0) return new Map();
  const rows = await tx
    .select({
      workloadId: workloadOwners.workloadId,
      orgId: workloadOwners.orgId,
      deploymentId: workloadOwners.deploymentId,
      notebookId: workloadOwners.notebookId,
    })
    .from(workloadOwners)
    .where(inArray(workloadOwners.workloadId, workloadIds));
  return new Map(rows.map(({ workloadId, ...owner }) => [workloadId, owner]));
}
