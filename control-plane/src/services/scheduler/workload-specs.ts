import { type GpuType, newId, type WorkloadPhase } from '@meridian/protocol';
import type { DeploymentView, NotebookView, WorkloadView } from './cluster-view.js';
import type { WorkloadNeeds } from './placement.js';

// What the scheduler creates and how it sizes it: new workloads for deployments and notebooks, their needs
// for placement, and a deployment's status read from its current revision's replicas.

export interface NewWorkload {
  id: string;
  kind: 'model' | 'notebook';
  orgId: string;
  deploymentId: string | null;
  revision: number | null;
  notebookId: string | null;
  gpuType: GpuType;
  gpuCount: number;
  gpuMemoryMiB: number;
  diskBytes: number;
  /** 1 unless it replaces a failed replica. */
  attempt?: number;
  /** Hosts where earlier attempts failed. */
  avoidAgents?: string[];
}

const MIB = 1024 * 1024;
/** Host memory a model replica needs: onnxruntime holds about two copies of the weights while it loads. */
const modelMemoryMiB = (sizeBytes: number) => Math.ceil((sizeBytes * 3) / MIB) + 64;
const NOTEBOOK_MEMORY_MIB = 512;

/** Decides one tick's writes from the cluster as read at its start. Pure apart from minting ids. */
const PROGRESS: Record<WorkloadPhase, number> = {
  failed: 0,
  stopped: 0,
  pending: 1,
  pulling: 2,
  loading: 3,
  ready: 4,
};
export const progress = (w: WorkloadView) => (w.agentId === null ? 0 : PROGRESS[w.phase]);

/** Wait before replacing a replica whose attempt `n` failed: 1 s, 2 s, 4 s… up to 5 minutes. */
export const retryBackoffMs = (attempt: number) => Math.min(300_000, 1_000 * 2 ** Math.max(0, attempt - 1));

/**
 * `current`: the current revision's replicas that are not retiring; `retiringWithinMs`: the retire delay, set
 * while one of its replicas retires. `idle` means no replica runs, so a deployment scaled to zero whose last
 * replica still retires reads `ready`, saying why, until it stops (the reason names no countdown: it would
 * change, and be written with an event, every tick).
 */
/** Why a deployment at zero with no replica running reads `idle`. */
export const IDLE_REASON = 'scaled to zero; the next call wakes it';

export function deploymentStatusOf(
  d: DeploymentView,
  current: WorkloadView[],
  retryInMs: (w: WorkloadView) => number,
  retiringWithinMs?: number,
): { status: DeploymentView['status']; reason: string | null } {
  if (d.desiredReplicas === 0 && current.length === 0)
    return retiringWithinMs !== undefined
      ? { status: 'ready', reason: scalingToZero(retiringWithinMs) }
      : { status: 'idle', reason: IDLE_REASON };
  const ready = current.filter((w) => w.agentId !== null && w.phase === 'ready').length;
  if (ready >= Math.max(1, d.desiredReplicas)) return { status: 'ready', reason: null };
  const failed = current.find((w) => w.agentId !== null && w.phase === 'failed');
  if (failed) {
    const retry = `; attempt ${failed.attempt + 1} in ${Math.ceil(retryInMs(failed) / 1000)} s`;
    return {
      status: 'failed',
      reason: `replica ${failed.id} on agent ${failed.agentId} failed: ${failed.reason ?? 'no reason given'}${retry}`,
    };
  }
  const retrying = current.find((w) => w.attempt > 1);
  const after = retrying
    ? `attempt ${retrying.attempt}, after a failure on agent ${retrying.avoidAgents.at(-1) ?? 'unknown'}`
    : null;
  const unplaced = current.find((w) => w.agentId === null);
  if (unplaced)
    return {
      status: 'pending',
      reason: [after, unplaced.pendingReason ?? 'waiting to be placed'].filter(Boolean).join(': '),
    };
  const least = Math.min(...current.map(progress));
  const status = least >= 3 ? 'loading' : least === 2 ? 'pulling' : 'scheduled';
  return { status, reason: after };
}

const scalingToZero = (ms: number) =>
  `scaling to zero: its last replica takes no new calls and stops within ${Math.ceil(ms / 1000)} s; ` +
  'a call or a new minimum before then keeps it, loaded';

export function newModelWorkload(d: DeploymentView, sizeBytes: number): NewWorkload {
  return {
    id: newId('workload'),
    kind: 'model',
    orgId: d.orgId,
    deploymentId: d.id,
    revision: d.revision,
    notebookId: null,
    gpuType: d.gpuType,
    gpuCount: d.gpuType === 'cpu' ? 0 : d.gpuCount,
    // Weights plus activations and the CUDA context: a rough bound, checked against free GPU memory.
    gpuMemoryMiB: d.gpuType === 'cpu' ? 0 : Math.ceil((sizeBytes * 2) / MIB) + 512,
    diskBytes: sizeBytes,
    attempt: 1,
  };
}

export function newNotebookWorkload(nb: NotebookView): NewWorkload {
  return {
    id: newId('workload'),
    kind: 'notebook',
    orgId: nb.orgId,
    deploymentId: null,
    revision: null,
    notebookId: nb.id,
    gpuType: nb.gpuType,
    gpuCount: nb.gpuType === 'cpu' ? 0 : nb.gpuCount,
    gpuMemoryMiB: 0,
    diskBytes: 0,
  };
}

export function toView(w: NewWorkload): WorkloadView {
  return {
    ...w,
    agentId: null,
    phase: 'pending',
    reason: null,
    pendingReason: null,
    retireAt: null,
    placedAt: null,
    pullingAt: null,
    loadingAt: null,
    readyAt: null,
    firstCallAt: null,
    attempt: w.attempt ?? 1,
    failedAt: null,
    avoidAgents: w.avoidAgents ?? [],
    report: null,
  };
}

export function needsOf(w: WorkloadView, deployments: Map<string, DeploymentView>): WorkloadNeeds {
  const d = w.deploymentId ? deployments.get(w.deploymentId) : undefined;
  return {
    workloadId: w.id,
    kind: w.kind,
    group: w.deploymentId ?? w.notebookId ?? w.id,
    gpuType: w.gpuType,
    gpuCount: w.gpuCount,
    gpuMemoryMiB: w.gpuMemoryMiB,
    diskBytes: w.diskBytes,
    ...(w.avoidAgents.length > 0 ? { avoid: w.avoidAgents } : {}),
    memoryMiB: w.kind === 'model' ? modelMemoryMiB(w.diskBytes) : NOTEBOOK_MEMORY_MIB,
    runtimes:
      w.kind === 'notebook' ? ['docker', 'process'] : d?.runtime === 'container' ? ['docker'] : ['onnx'],
  };
}
