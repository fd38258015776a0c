import { gpuTypeOfName } from '@meridian/protocol';

/** The GPU types the platform prices and schedules by; every other card is `other`. */
export type GpuType = 't4' | 'v100' | 'rtx4090' | 'other';

/** Maps an nvidia-smi product name to the platform's GPU type (the shared table in @meridian/protocol). */
export function gpuTypeOf(name: string): GpuType {
  return gpuTypeOfName(name) ?? 'other';
}
