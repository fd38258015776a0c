import type { GpuType } from '@meridian/protocol';
import { invalidField } from '../../errors.js';

/** Most GPUs one host offers; a request for more could never be placed. */
export const MAX_GPU_COUNT = 8;

/**
 * The GPU count a deployment replica or notebook asks for: none on `cpu`, 1–8 of a GPU type. Left out, it is
 * 0 for `cpu` and 1 otherwise.
 */
export function resolveGpuCount(gpuType: GpuType, gpuCount: number | undefined): number {
  if (gpuType === 'cpu') {
    if (gpuCount !== undefined && gpuCount !== 0) throw invalidField('gpuCount', 'must be 0 for gpuType cpu');
    return 0;
  }
  if (gpuCount === undefined) return 1;
  if (gpuCount < 1 || gpuCount > MAX_GPU_COUNT) {
    throw invalidField('gpuCount', `must be 1 to ${MAX_GPU_COUNT} for gpuType ${gpuType}`);
  }
  return gpuCount;
}
