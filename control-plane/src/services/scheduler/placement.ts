import type { AgentRuntime, AgentStatus, GpuType, HostInventory } from '@meridian/protocol';
import { GPU_LABELS, gpuTypeOf } from './gpu-types.js';

export { gpuTypeOf } from './gpu-types.js';

/** One agent's host as the scheduler sees it: what it has and what is already placed on it. */
export interface HostSnapshot {
  agentId: string;
  /** Only `online` hosts receive new work; `draining` and `lost` never do. */
  status: AgentStatus;
  runtimes: AgentRuntime[];
  inventory: HostInventory;
  /** Workloads already placed on this host: they count against its capacity. */
  assigned: AssignedWorkload[];
}

/** What one workload needs from a host. */
export interface WorkloadNeeds {
  workloadId: string;
  kind: 'model' | 'notebook';
  /** Replicas of one deployment share a group (the deployment id); a notebook is its own group. */
  group: string;
  gpuType: GpuType;
  /** 0 for cpu. */
  gpuCount: number;
  /** Per GPU, estimated. */
  gpuMemoryMiB: number;
  /** Model file size (cache) or 0. */
  diskBytes: number;
  /** Host memory estimate; cpu workloads are placed by it. */
  memoryMiB: number;
  /** Runtimes that can run it, any one suffices: ['onnx'] for onnx models, ['docker'] for container images, ['docker','process'] for notebooks. */
  runtimes: AgentRuntime[];
  /** Hosts to place it on only when no other fits (where an earlier attempt failed). */
  avoid?: readonly string[];
}

export type AssignedWorkload = WorkloadNeeds;

export interface PlacementResult {
  placed: { workloadId: string; agentId: string }[];
  unschedulable: { workloadId: string; reason: string }[];
}

interface FreeGpu {
  index: number;
  freeMiB: number;
}

/** What is left of one online host while a call runs; placements made earlier in the call shrink it. */
interface Capacity {
  agentId: string;
  runtimes: ReadonlySet<AgentRuntime>;
  totalGpus: Map<GpuType, number>;
  /** Free GPUs per type, by ascending index. */
  freeGpus: Map<GpuType, FreeGpu[]>;
  diskFreeBytes: number;
  memoryFreeMiB: number;
  groupCounts: Map<string, number>;
}

/** One condition a host must meet, with the words that explain a workload no host meets it for. */
interface Check {
  passes(c: Capacity): boolean;
  /** Describes the hosts that pass, as in `no online host <qualifier> …`: `running docker`. */
  qualifier: string;
  /** Ends `no online host …` when none passes: `runs the docker runtime`. */
  failure: string;
  /** Who came closest among the hosts that reached this check, in parentheses, or ''. */
  closest(cs: Capacity[]): string;
}

// Plain code-unit order: localeCompare would make the result depend on the machine's locale.
const compareIds = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Places pending workloads on hosts. Pure and deterministic: pending workloads go in workloadId order over
 * hosts in agentId order, whatever the order of the input arrays, and each placement counts against the
 * host's capacity for the ones after it. Workload ids are assumed unique.
 */
export function placeWorkloads(hosts: HostSnapshot[], pending: WorkloadNeeds[]): PlacementResult {
  const sortedHosts = [...hosts].sort((a, b) => compareIds(a.agentId, b.agentId));
  const online = sortedHosts.filter((h) => h.status === 'online').map(capacityOf);
  const result: PlacementResult = { placed: [], unschedulable: [] };
  for (const w of [...pending].sort((a, b) => compareIds(a.workloadId, b.workloadId))) {
    const reason = invalidNeeds(w) ?? (online.length === 0 ? noOnlineHosts(sortedHosts) : undefined);
    const checks = checksFor(w);
    const host = reason ? undefined : pickHost(w, online, checks);
    if (host) {
      take(host, w);
      result.placed.push({ workloadId: w.workloadId, agentId: host.agentId });
    } else {
      result.unschedulable.push({ workloadId: w.workloadId, reason: reason ?? explain(online, checks) });
    }
  }
  return result;
}

function capacityOf(host: HostSnapshot): Capacity {
  const gpus = new Map<GpuType, HostInventory['gpus']>();
  for (const gpu of host.inventory.gpus) {
    const type = gpuTypeOf(gpu.name);
    if (type) gpus.set(type, [...(gpus.get(type) ?? []), gpu]);
  }
  const held = new Map<GpuType, number>();
  const groupCounts = new Map<string, number>();
  let disk = 0;
  let memory = 0;
  for (const w of host.assigned) {
    if (w.gpuType !== 'cpu') held.set(w.gpuType, (held.get(w.gpuType) ?? 0) + w.gpuCount);
    groupCounts.set(w.group, (groupCounts.get(w.group) ?? 0) + 1);
    disk += w.diskBytes;
    memory += w.memoryMiB;
  }
  const totalGpus = new Map<GpuType, number>();
  const freeGpus = new Map<GpuType, FreeGpu[]>();
  for (const [type, list] of gpus) {
    totalGpus.set(type, list.length);
    // Assigned workloads are taken to hold the lowest indexes. They hold GPUs whole, so a GPU left free has
    // no assigned workload's memory to subtract from its total: nvidia-smi's free memory (which also sees
    // processes Meridian did not start) is the bound.
    const free = [...list].sort((a, b) => a.index - b.index).slice(held.get(type) ?? 0);
    freeGpus.set(
      type,
      free.map((g) => ({ index: g.index, freeMiB: Math.min(g.memoryFreeMiB, g.memoryTotalMiB) })),
    );
  }
  return {
    agentId: host.agentId,
    runtimes: new Set(host.runtimes),
    totalGpus,
    freeGpus,
    diskFreeBytes: Math.max(0, host.inventory.disk.freeBytes - disk),
    memoryFreeMiB: Math.max(0, host.inventory.cpu.memoryMiB - memory),
    groupCounts,
  };
}

function invalidNeeds(w: WorkloadNeeds): string | undefined {
  if (w.runtimes.length === 0) return 'the workload names no runtime that could run it';
  if (w.gpuType !== 'cpu' && w.gpuCount < 1) {
    return `the workload asks for ${GPU_LABELS[w.gpuType]} GPUs but a count of ${w.gpuCount}`;
  }
  return undefined;
}

function noOnlineHosts(hosts: HostSnapshot[]): string {
  const counts = (['draining', 'lost'] as const)
    .map((status) => [status, hosts.filter((h) => h.status === status).length] as const)
    .filter(([, n]) => n > 0)
    .map(([status, n]) => `${n} ${status}`);
  return counts.length > 0 ? `no online hosts (${counts.join(', ')})` : 'no online hosts';
}

/** How many GPUs of the workload's type on a host have enough free memory; allocates nothing (hot loop). */
function countUsable(c: Capacity, w: WorkloadNeeds): number {
  let n = 0;
  for (const g of c.freeGpus.get(w.gpuType) ?? []) if (g.freeMiB >= w.gpuMemoryMiB) n += 1;
  return n;
}

/** The GPUs of the workload's type on a host with enough free memory, lowest index first. */
function usableGpus(c: Capacity, w: WorkloadNeeds): FreeGpu[] {
  return (c.freeGpus.get(w.gpuType) ?? []).filter((g) => g.freeMiB >= w.gpuMemoryMiB);
}

/**
 * Lower is better. Model replicas spread: the host with the fewest of the same group. Notebooks pack: the
 * host with the fewest free GPUs of the type (or, on cpu, the least free memory) that still fits, so whole
 * hosts stay free for larger requests.
 */
function preference(w: WorkloadNeeds, c: Capacity): number {
  if (w.kind === 'model') return c.groupCounts.get(w.group) ?? 0;
  if (w.gpuType === 'cpu') return c.memoryFreeMiB;
  return c.freeGpus.get(w.gpuType)?.length ?? 0;
}

function pickHost(w: WorkloadNeeds, online: Capacity[], checks: Check[]): Capacity | undefined {
  let best: Capacity | undefined;
  let bestAvoided = false;
  let bestPreference = 0;
  // `online` is in agentId order and only a strictly better host replaces the best: ties go to the lower id.
  // A host to avoid is better only than another host to avoid.
  for (const c of online) {
    if (!checks.every((check) => check.passes(c))) continue;
    const avoided = w.avoid?.includes(c.agentId) ?? false;
    if (best && avoided && !bestAvoided) continue;
    const p = preference(w, c);
    if (!best || (bestAvoided && !avoided) || p < bestPreference) {
      best = c;
      bestAvoided = avoided;
      bestPreference = p;
      // Nothing ranks below 0 and ties go to the lower id: no later host can replace this one.
      if (p === 0 && !avoided) break;
    }
  }
  return best;
}

function take(c: Capacity, w: WorkloadNeeds): void {
  if (w.gpuType !== 'cpu') {
    const taken = new Set(usableGpus(c, w).slice(0, w.gpuCount));
    c.freeGpus.set(
      w.gpuType,
      (c.freeGpus.get(w.gpuType) ?? []).filter((g) => !taken.has(g)),
    );
  }
  c.diskFreeBytes = Math.max(0, c.diskFreeBytes - w.diskBytes);
  c.memoryFreeMiB = Math.max(0, c.memoryFreeMiB - w.memoryMiB);
  c.groupCounts.set(w.group, (c.groupCounts.get(w.group) ?? 0) + 1);
}

/** Narrows the online hosts check by check; the first check that leaves none says why. */
function explain(online: Capacity[], checks: Check[]): string {
  let remaining = online;
  const qualifiers: string[] = [];
  for (const check of checks) {
    const passing = remaining.filter((c) => check.passes(c));
    if (passing.length === 0) {
      const closest = check.closest(remaining);
      return ['no online host', ...qualifiers, check.failure].join(' ') + (closest ? ` ${closest}` : '');
    }
    if (passing.length < remaining.length) qualifiers.push(check.qualifier);
    remaining = passing;
  }
  // Unreachable while checksFor and pickHost agree: a host passing every check would have been picked.
  return 'no online host fits it';
}

function checksFor(w: WorkloadNeeds): Check[] {
  const checks = [runtimeCheck(w)];
  checks.push(w.gpuType === 'cpu' ? memoryCheck(w) : gpuCheck(w));
  if (w.diskBytes > 0) checks.push(diskCheck(w));
  return checks;
}

function runtimeCheck(w: WorkloadNeeds): Check {
  const names = w.runtimes.join(' or ');
  return {
    passes: (c) => w.runtimes.some((r) => c.runtimes.has(r)),
    qualifier: `running ${names}`,
    failure: `runs the ${names} runtime`,
    closest: (cs) => {
      const all = [...new Set(cs.flatMap((c) => [...c.runtimes]))].sort(compareIds);
      return all.length > 0 ? `(online hosts run ${all.join(', ')})` : '';
    },
  };
}

function gpuCheck(w: WorkloadNeeds): Check {
  const label = GPU_LABELS[w.gpuType];
  const memory = w.gpuMemoryMiB > 0 ? ` with ${w.gpuMemoryMiB} MiB GPU memory each` : '';
  const phrase = `with ${w.gpuCount}× ${label} free${memory}`;
  return {
    passes: (c) => countUsable(c, w) >= w.gpuCount,
    qualifier: phrase,
    failure: phrase,
    closest: (cs) => {
      const total = cs.reduce((n, c) => n + (c.totalGpus.get(w.gpuType) ?? 0), 0);
      if (total === 0) return `(none has any ${label})`;
      const rank = (c: Capacity) => {
        const free = c.freeGpus.get(w.gpuType) ?? [];
        return [usableGpus(c, w).length, free.length, Math.max(0, ...free.map((g) => g.freeMiB))] as const;
      };
      const best = bestBy(cs, rank);
      const [usable, free, largest] = rank(best);
      if (free === 0) return `(all ${total} in use)`;
      if (usable > 0 || w.gpuMemoryMiB === 0) return `(best: ${best.agentId} has ${usable} free)`;
      return `(best: ${best.agentId} has ${free} free, the largest with ${largest} MiB)`;
    },
  };
}

function memoryCheck(w: WorkloadNeeds): Check {
  return {
    passes: (c) => c.memoryFreeMiB >= w.memoryMiB,
    qualifier: `with ${w.memoryMiB} MiB free memory`,
    failure: `has ${w.memoryMiB} MiB free memory`,
    closest: (cs) => {
      const best = bestBy(cs, (c) => [c.memoryFreeMiB]);
      return `(best: ${best.agentId} has ${best.memoryFreeMiB} MiB)`;
    },
  };
}

function diskCheck(w: WorkloadNeeds): Check {
  const size = formatBytes(w.diskBytes);
  return {
    passes: (c) => c.diskFreeBytes >= w.diskBytes,
    qualifier: `with ${size} free disk`,
    failure: `has ${size} free disk${w.kind === 'model' ? ' for the model' : ''}`,
    closest: (cs) => {
      const best = bestBy(cs, (c) => [c.diskFreeBytes]);
      return `(best: ${best.agentId} has ${formatBytes(best.diskFreeBytes)})`;
    },
  };
}

/** The host ranking highest, comparing rank tuples left to right; ties go to the first (lowest agentId). */
function bestBy(cs: Capacity[], rank: (c: Capacity) => readonly number[]): Capacity {
  const ranked = cs.map((c) => ({ c, r: rank(c) }));
  const first = ranked[0];
  if (!first) throw new Error('bestBy needs at least one host');
  let best = first;
  for (const entry of ranked) {
    const diff = entry.r.findIndex((v, i) => v !== best.r[i]);
    if (diff >= 0 && (entry.r[diff] ?? 0) > (best.r[diff] ?? 0)) best = entry;
  }
  return best.c;
}

/** Decimal units, one decimal: `2.1 GB`, as disk sizes are sold and as `df -H` prints them. */
function formatBytes(bytes: number): string {
  const units = [
    [1e12, 'TB'],
    [1e9, 'GB'],
    [1e6, 'MB'],
    [1e3, 'kB'],
  ] as const;
  for (const [size, unit] of units) {
    if (bytes >= size) return `${(bytes / size).toFixed(1)} ${unit}`;
  }
  return `${bytes} B`;
}
