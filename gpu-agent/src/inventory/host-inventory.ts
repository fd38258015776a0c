import { statfs } from 'node:fs/promises';
import { availableParallelism, cpus, freemem, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import { type GpuProbe, probeGpus } from './probe-gpus.js';

export interface DiskSpace {
  /** The directory measured: the data dir, or its nearest existing parent before the agent creates it. */
  path: string;
  totalBytes: number;
  freeBytes: number;
}

/** What the agent reports about its host at registration and in heartbeats. */
export interface HostInventory {
  gpu: GpuProbe;
  cpu: { cores: number; model: string };
  memory: { totalBytes: number; freeBytes: number };
  disk: DiskSpace;
}

const isMissing = (err: unknown) => err instanceof Error && 'code' in err && err.code === 'ENOENT';

/** Free and total bytes of the filesystem holding `dir`; `freeBytes` is what an unprivileged user may use. */
export async function measureDisk(dir: string): Promise<DiskSpace> {
  let path = resolve(dir);
  for (;;) {
    try {
      const s = await statfs(path);
      return { path, totalBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize };
    } catch (err) {
      const parent = dirname(path);
      if (!isMissing(err) || parent === path) throw err;
      path = parent;
    }
  }
}

/** CPU cores and model, total and free memory of this host. */
export function measureCpu(): Pick<HostInventory, 'cpu' | 'memory'> {
  const list = cpus();
  return {
    // os.cpus() is empty where /proc/cpuinfo is hidden (some containers); fall back to the scheduler's count.
    cpu: {
      cores: list.length > 0 ? list.length : availableParallelism(),
      model: list[0]?.model.trim() ?? 'unknown',
    },
    memory: { totalBytes: totalmem(), freeBytes: freemem() },
  };
}

export interface CollectInventoryOptions {
  nvidiaSmiPath: string;
  dataDir: string;
  nvidiaSmiTimeoutMs?: number;
}

/** GPUs (none when nvidia-smi is missing or fails), CPU, memory and the data dir's disk. */
export async function collectHostInventory(options: CollectInventoryOptions): Promise<HostInventory> {
  const [gpu, disk] = await Promise.all([
    probeGpus({ nvidiaSmiPath: options.nvidiaSmiPath, timeoutMs: options.nvidiaSmiTimeoutMs }),
    measureDisk(options.dataDir),
  ]);
  return { gpu, ...measureCpu(), disk };
}
