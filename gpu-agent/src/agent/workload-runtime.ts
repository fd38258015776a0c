import type { DesiredWorkload, WorkloadPhase, WorkloadStatus } from '@meridian/protocol';

/**
 * The fields of a model workload's spec that change while it serves: a change of these alone reconfigures the
 * replica (WorkloadRuntime.reconfigure), where any other change replaces it.
 */
export const LIVE_SETTINGS = ['batching'] as const;

/** What a runtime tells the reconciler while it brings a workload up. */
export interface RuntimeContext {
  /** Moves the workload to `phase` (pulling, loading); the next heartbeat carries it. */
  report(phase: Extract<WorkloadPhase, 'pulling' | 'loading'>): void;
  /** Aborted when the workload is removed before it is ready: stop working on it. */
  signal: AbortSignal;
  /**
   * The workload stopped serving on its own after it was started (its container or process exited):
   * reported failed with `reason`, so the control plane replaces it. Runtimes whose workloads live in the
   * agent's own process never call it.
   */
  exited(reason: string): void;
}

/**
 * How an adopt ended: what the previous agent left was still running and is served again as it is, or it was
 * gone (or lives in the agent's own process) and was started anew.
 */
export type Adopted = 'taken-back' | 'started-again';

/** What a runtime adds to a ready workload's heartbeat status (a notebook's endpoint and last activity). */
export type WorkloadDetails = Pick<WorkloadStatus, 'endpoint' | 'lastActivityAt'>;

/**
 * One way to run workloads: the onnx runtime (./onnx-runtime.ts), and docker or plain processes
 * (gpu-agent/src/runtimes/). The reconciler decides what runs; a runtime only knows how.
 */
export interface WorkloadRuntime {
  readonly name: 'onnx' | 'docker' | 'process';
  /** Whether this runtime can run `workload` (the reconciler picks the first that can). */
  supports(workload: DesiredWorkload): boolean;
  /** Brings `workload` up; resolves once it serves, rejects with a reason an operator can act on. */
  start(workload: DesiredWorkload, ctx: RuntimeContext): Promise<void>;
  /**
   * Takes back a workload this agent ran before it restarted, without starting a second copy: a container
   * runtime finds its container by label and keeps it; the onnx runtime, which held it in memory, reloads.
   */
  adopt(workload: DesiredWorkload, ctx: RuntimeContext): Promise<Adopted>;
  /**
   * Applies a change of the settings that can change while a workload serves (LIVE_SETTINGS: its dynamic
   * batching) to a workload this runtime serves; false when it does not serve it (yet), and the workload is
   * replaced instead. A runtime without this method uses none of those settings: their change leaves its
   * workloads as they are.
   */
  reconfigure?(workload: DesiredWorkload): boolean;
  /** Stops `workloadId` and frees what it held; a workload it does not hold is a no-op. */
  stop(workloadId: string): Promise<void>;
  /**
   * Lets go of a ready workload without stopping it (the agent is stopping and leaves its workloads running):
   * nothing is routed to it or watched here any more, and the next agent's `adopt` takes it back. Runtimes
   * whose workloads live in the agent's own process cannot, and omit it: theirs are stopped.
   */
  detach?(workloadId: string): Promise<void>;
  /**
   * Removes what this runtime still runs for workloads not in `desiredIds` (left by a crash or a lost
   * record). Runtimes that hold nothing outside this process need not implement it.
   */
  removeUndesired?(desiredIds: ReadonlySet<string>): Promise<unknown>;
  /**
   * What the heartbeat should carry about a ready workload beyond its phase. Synchronous: it answers with
   * what the runtime last learned and never waits on the workload. Runtimes with nothing to add omit it.
   */
  details?(workloadId: string): WorkloadDetails | undefined;
}
