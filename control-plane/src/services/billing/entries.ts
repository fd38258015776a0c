import { billingWindow, type GpuType, TIME_METER } from '@meridian/protocol';
import type { LedgerEntry } from './ledger.js';

// Every ledger id is derived from the fact it bills, so a replayed source maps to the same ids. Pure.

const HOUR_MS = 3_600_000;

/** One entry of an agent's usage report, with its position in the report. */
export interface AgentFact {
  idx: number;
  workloadId: string;
  gpuType: GpuType;
  seconds: number;
  from: number;
  to: number;
}

/** Who a workload ran for, as `workload_owners` keeps it. */
export interface WorkloadOwner {
  orgId: string;
  deploymentId: string | null;
  notebookId: string | null;
}

/**
 * Ledger entries of one agent report. An entry within one UTC hour becomes `agent:<agentId>:<seq>:<idx>`;
 * one that spans several hours is split across them in proportion to the time in each, as
 * `agent:<agentId>:<seq>:<idx>:<k>`, so a late report still lands in the hours its time was spent in.
 * Entries of workloads without an owner are returned apart: they cannot be billed to anyone.
 */
export function agentEntries(
  agentId: string,
  seq: number,
  facts: readonly AgentFact[],
  owners: ReadonlyMap<string, WorkloadOwner>,
): { entries: LedgerEntry[]; unowned: AgentFact[] } {
  const entries: LedgerEntry[] = [];
  const unowned: AgentFact[] = [];
  for (const fact of facts) {
    const owner = owners.get(fact.workloadId);
    if (!owner) {
      unowned.push(fact);
      continue;
    }
    if (fact.seconds <= 0) continue;
    const base = {
      orgId: owner.orgId,
      meter: TIME_METER[fact.gpuType],
      source: 'agent' as const,
      deploymentId: owner.deploymentId,
      notebookId: owner.notebookId,
    };
    const pieces = splitByHour(fact.from, fact.to, fact.seconds);
    const id = `agent:${agentId}:${seq}:${fact.idx}`;
    pieces.forEach((piece, k) => {
      entries.push({
        ...base,
        id: pieces.length === 1 ? id : `${id}:${k}`,
        quantity: piece.seconds,
        windowStart: new Date(piece.windowStart),
        occurredAt: new Date(piece.from),
      });
    });
  }
  return { entries, unowned };
}

/**
 * Shares `seconds` spent over [from, to] among the UTC hours it touches, by time overlap. The last piece
 * takes the remainder, so the pieces always add up to `seconds` exactly.
 */
export function splitByHour(
  from: number,
  to: number,
  seconds: number,
): { windowStart: number; from: number; seconds: number }[] {
  const first = billingWindow(from);
  if (to <= from || billingWindow(to - 1) === first) return [{ windowStart: first, from, seconds }];
  const pieces: { windowStart: number; from: number; seconds: number }[] = [];
  let given = 0;
  for (let start = first; start < to; start += HOUR_MS) {
    const pieceFrom = Math.max(from, start);
    const pieceTo = Math.min(to, start + HOUR_MS);
    const last = start + HOUR_MS >= to;
    const share = last ? seconds - given : (seconds * (pieceTo - pieceFrom)) / (to - from);
    given += share;
    pieces.push({ windowStart: start, from: pieceFrom, seconds: share });
  }
  return pieces;
}

/** `storage:<orgId>:<hourStartMs>`: the org's bytes held through one UTC hour, as byte-hours. */
export function storageEntry(orgId: string, hourStart: number, bytes: number): LedgerEntry {
  return {
    id: `storage:${orgId}:${hourStart}`,
    orgId,
    meter: 'storage_mb_hours',
    quantity: bytes,
    windowStart: new Date(hourStart),
    occurredAt: new Date(hourStart),
    source: 'storage',
    deploymentId: null,
    notebookId: null,
  };
}
