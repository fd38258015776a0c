/** The GPU types the platform prices and schedules by; every other card is `other`. */
export type GpuType = 't4' | 'v100' | 'rtx4090' | 'other';

const PATTERNS: readonly [RegExp, GpuType][] = [
  // "Tesla T4", "NVIDIA T4" (and T4G, the same chip on Arm hosts).
  [/\bT4G?$/i, 't4'],
  // "Tesla V100-SXM2-16GB", "Tesla V100-PCIE-32GB", "Tesla V100S-PCIE-32GB", "Tesla V100-SXM3-32GB".
  [/\bV100S?\b/i, 'v100'],
  // "NVIDIA GeForce RTX 4090"; the cut-down "RTX 4090 D" is a different, slower card, so it stays `other`.
  [/\bRTX 4090$/i, 'rtx4090'],
];

/** Maps an nvidia-smi product name to the platform's GPU type. */
export function gpuTypeOf(name: string): GpuType {
  const trimmed = name.trim();
  for (const [pattern, type] of PATTERNS) {
    if (pattern.test(trimmed)) return type;
  }
  return 'other';
}
