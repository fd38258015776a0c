import type { UsageAck, UsageReport } from '@meridian/protocol';
import { and, eq, lt } from 'drizzle-orm';
import { agents, agentUsageEntries, agentUsageReports } from '../../db/schema.js';
import { notFound } from '../../errors.js';
import type { AgentServiceDeps } from './deps.js';

// Rows per insert statement: 8 values each stays well under SQLite's bound-parameter limit.
const CHUNK = 200;

/**
 * Counts a usage report exactly once. The agent's `last_usage_seq` only moves up, by a conditional update,
 * so a retried report (same seq) or a late older one changes no row and is acknowledged without being
 * stored again; the (agent, seq) primary key backs this up.
 */
export async function recordUsage(
  deps: AgentServiceDeps,
  agentId: string,
  report: UsageReport,
  now = new Date(),
): Promise<UsageAck> {
  return deps.db.transaction(async (tx) => {
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
    return { seq: report.seq, accepted: true, lastSeq: report.seq };
  });
}
