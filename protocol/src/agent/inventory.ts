import { z } from 'zod';

// Agent → control plane bodies are strict: the control plane refuses fields it does not know, so a typo
// never passes silently. Control plane → agent bodies are not, so an older agent ignores a newer field.

/** Ways an agent can run a workload: the onnx runtime, a plain process, or a docker container. */
export const AGENT_RUNTIMES = ['onnx', 'process', 'docker'] as const;
export const AgentRuntime = z.enum(AGENT_RUNTIMES);
export type AgentRuntime = z.infer<typeof AgentRuntime>;

const mib = z
  .number()
  .int()
  .nonnegative()
  .max(1024 ** 3);
const bytes = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** One GPU as `nvidia-smi --query-gpu` reports it; a reading the driver leaves `[N/A]` is null. */
export const GpuInfo = z.strictObject({
  index: z.number().int().nonnegative().max(255),
  uuid: z.string().min(1).max(128),
  name: z.string().min(1).max(256),
  memoryTotalMiB: mib,
  memoryUsedMiB: mib,
  memoryFreeMiB: mib,
  utilizationPct: z.number().min(0).max(100).nullable(),
  temperatureC: z.number().min(-100).max(200).nullable(),
  powerDrawW: z.number().nonnegative().max(100_000).nullable(),
});
export type GpuInfo = z.infer<typeof GpuInfo>;

/** What a host offers: its GPUs (none on a CPU-only host), CPU, memory and free disk for the model cache. */
export const HostInventory = z.strictObject({
  gpus: z.array(GpuInfo).max(64),
  cpu: z.strictObject({ cores: z.number().int().positive().max(4096), memoryMiB: mib }),
  disk: z.strictObject({ freeBytes: bytes, totalBytes: bytes }),
});
export type HostInventory = z.infer<typeof HostInventory>;
