import type { DesiredWorkload } from '@meridian/protocol';

/** What one workload may use of its host. */
export interface WorkloadLimits {
  cpus: number;
  memoryBytes: number;
  pidsLimit: number;
}

const GIB = 1024 ** 3;
/** A CPU-only workload: what the `cpu` price buys. */
const CPU_ONLY = { cpus: 2, memoryBytes: 4 * GIB };
/** Per GPU placed: the host CPU and memory that usually come with one on rented GPU hosts. */
const PER_GPU = { cpus: 8, memoryBytes: 32 * GIB };
const PIDS_LIMIT = 1024;

/**
 * Limits from a workload's size (its GPU count), never more than the host has: a runaway notebook or model
 * server cannot starve the agent or its neighbours. Pure: `host` is passed in.
 */
export function limitsOf(
  workload: Pick<DesiredWorkload, 'gpuCount'>,
  host: { cpus: number; memoryBytes: number },
): WorkloadLimits {
  const size =
    workload.gpuCount > 0
      ? { cpus: PER_GPU.cpus * workload.gpuCount, memoryBytes: PER_GPU.memoryBytes * workload.gpuCount }
      : CPU_ONLY;
  return {
    cpus: Math.max(0.5, Math.min(size.cpus, host.cpus)),
    memoryBytes: Math.min(size.memoryBytes, Math.floor(host.memoryBytes * 0.9)),
    pidsLimit: PIDS_LIMIT,
  };
}
