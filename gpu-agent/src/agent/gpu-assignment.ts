import type { GpuType } from '@meridian/protocol';
import { gpuTypeOfName } from '@meridian/protocol';

/** A GPU of this host as nvidia-smi lists it. */
export interface HostGpu {
  index: number;
  uuid: string;
  name: string;
}

/**
 * The devices a workload placed here for `count` GPUs of `gpuType` gets: the lowest-index GPUs of that type
 * that no other workload holds, by UUID (indexes can change across reboots, UUIDs cannot). Throws, with the
 * counts, when the host has too few free: the scheduler placed it on stale figures, and the workload's
 * status says why it cannot start.
 */
export function assignGpus(
  host: readonly HostGpu[],
  gpuType: GpuType,
  count: number,
  held: ReadonlySet<string>,
): string[] {
  if (count <= 0) return [];
  const ofType = host.filter((g) => gpuTypeOfName(g.name) === gpuType);
  const free = ofType.filter((g) => !held.has(g.uuid)).sort((a, b) => a.index - b.index);
  if (free.length < count)
    throw new Error(
      `needs ${count} ${gpuType} GPU(s); this host has ${ofType.length}, ${free.length} of them free`,
    );
  return free.slice(0, count).map((g) => g.uuid);
}

/** Which GPUs each workload on this host holds, so two never share one. */
export class GpuLedger {
  private readonly held = new Map<string, string[]>();

  constructor(private readonly hostGpus: () => Promise<readonly HostGpu[]>) {}

  /** Assigns `workloadId` its devices (the same ones again if it holds some already). */
  async assign(workloadId: string, gpuType: GpuType, count: number): Promise<string[]> {
    const mine = this.held.get(workloadId);
    if (mine && mine.length === count) return mine;
    const others = new Set([...this.held].filter(([id]) => id !== workloadId).flatMap(([, ids]) => ids));
    const ids = assignGpus(await this.hostGpus(), gpuType, count, others);
    if (ids.length > 0) this.held.set(workloadId, ids);
    return ids;
  }

  /** Records devices a workload already holds (one a restarted agent took back), so no other gets them. */
  hold(workloadId: string, deviceIds: readonly string[]): void {
    if (deviceIds.length > 0) this.held.set(workloadId, [...deviceIds]);
  }

  release(workloadId: string): void {
    this.held.delete(workloadId);
  }
}
