import {
  type DeploymentMetricsBatch,
  type DeploymentMetricsRecord,
  emptyHistogram,
  observeLatency,
  statusClassOf,
} from '@meridian/protocol';
import { minuteOf } from '../usage/usage-store.js';

/** Most records in one batch (protocol DeploymentMetricsBatch). */
const MAX_RECORDS_PER_BATCH = 5_000;
/** Sealed batches kept for retry while the control plane is away; older ones are dropped (metrics, not billing). */
export const MAX_PENDING_BATCHES = 60;

/** One answered call, as the edge saw it. */
export interface CallObservation {
  orgId: string;
  deploymentId: string;
  versionId: string | null;
  status: number;
  /** From receiving the request to the last byte of the upstream answer (or of the edge's own). */
  latencyMs: number;
  atMs: number;
}

/**
 * An isolate's per-deployment metrics: calls add to open records keyed by (deployment, version, minute),
 * which are sealed into batches with stable ids (`<isolateId>:<seq>`) and kept until the control plane has
 * them. Memory only: an isolate that dies loses at most what it had not flushed (one flush interval).
 */
export class MetricsAggregator {
  private open = new Map<string, DeploymentMetricsRecord>();
  private pendingBatches: DeploymentMetricsBatch[] = [];
  private seq = 0;
  /** Calls added since the last seal. */
  calls = 0;
  /** Batches dropped because the control plane was away too long. */
  dropped = 0;

  constructor(private readonly isolateId: string) {}

  private minuteNumber = Number.NaN;
  private minuteText = '';

  /** minuteOf, formatted once per minute rather than once per call (a Date and an ISO string each). */
  private minuteAt(ms: number): string {
    const n = Math.floor(ms / 60_000);
    if (n !== this.minuteNumber) {
      this.minuteNumber = n;
      this.minuteText = minuteOf(ms);
    }
    return this.minuteText;
  }

  add(call: CallObservation): void {
    const minute = this.minuteAt(call.atMs);
    const key = `${call.deploymentId}\u0000${call.versionId ?? ''}\u0000${minute}`;
    let record = this.open.get(key);
    if (!record) {
      record = {
        orgId: call.orgId,
        deploymentId: call.deploymentId,
        versionId: call.versionId,
        minute,
        requests: {},
        latency: emptyHistogram(),
      };
      this.open.set(key, record);
    }
    const cls = statusClassOf(call.status);
    record.requests[cls] = (record.requests[cls] ?? 0) + 1;
    observeLatency(record.latency, call.latencyMs);
    this.calls += 1;
  }

  /** Moves the open records into new batches; returns every batch not yet acknowledged, oldest first. */
  seal(): DeploymentMetricsBatch[] {
    const records = [...this.open.values()];
    this.open = new Map();
    this.calls = 0;
    for (let i = 0; i < records.length; i += MAX_RECORDS_PER_BATCH) {
      this.seq += 1;
      this.pendingBatches.push({
        batchId: `${this.isolateId}:${this.seq}`,
        records: records.slice(i, i + MAX_RECORDS_PER_BATCH),
      });
    }
    const excess = this.pendingBatches.length - MAX_PENDING_BATCHES;
    if (excess > 0) {
      this.pendingBatches.splice(0, excess);
      this.dropped += excess;
    }
    return [...this.pendingBatches];
  }

  /** Forgets a batch the control plane has stored. */
  acknowledge(batchId: string): void {
    this.pendingBatches = this.pendingBatches.filter((b) => b.batchId !== batchId);
  }

  hasOpen(): boolean {
    return this.open.size > 0;
  }

  pending(): number {
    return this.pendingBatches.length;
  }
}
