import type { GpuType } from './usage.js';

/** A GPU type a host can have: every priced type but `cpu`, which means no GPU. */
export type HostGpuType = Exclude<GpuType, 'cpu'>;

// One table for agent and control plane: the agent reports nvidia-smi names, the scheduler reads them back,
// so both ends must agree on which card is which type.
const PATTERNS: readonly [RegExp, HostGpuType][] = [
  // "Tesla T4", "NVIDIA T4" (and T4G, the same chip on Arm hosts).
  [/\bT4G?$/i, 't4'],
  // "Tesla V100-SXM2-16GB", "Tesla V100-PCIE-32GB", "Tesla V100S-PCIE-32GB", "Tesla V100-SXM3-32GB".
  [/\bV100S?\b/i, 'v100'],
  // "NVIDIA GeForce RTX 4090"; the cut-down "RTX 4090 D" is a different, slower card, so it has no type.
  [/\bRTX 4090$/i, 'rtx4090'],
];

/** Maps an nvidia-smi product name to the GPU type Meridian prices and schedules by; undefined for any other card. */
export function gpuTypeOfName(nvidiaSmiName: string): HostGpuType | undefined {
  const name = nvidiaSmiName.trim();
  return PATTERNS.find(([pattern]) => pattern.test(name))?.[1];
}

/** How a person reads a GPU type in a message: `RTX 4090`, not `rtx4090`. */
export const GPU_LABELS: Readonly<Record<GpuType, string>> = {
  t4: 'T4',
  v100: 'V100',
  rtx4090: 'RTX 4090',
  cpu: 'CPU',
};
