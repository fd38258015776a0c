import type { WorkloadSpec } from './types.js';

/**
 * The environment that shows a process only its assigned GPUs: CUDA (and NVIDIA's container tooling, for
 * what a notebook starts itself) sees exactly `deviceIds`; a CPU workload sees none. A process can still
 * open /dev/nvidia* itself: this steers CUDA, it does not fence devices (containers do, with DeviceRequests).
 */
export function gpuEnv(gpus: WorkloadSpec['gpus']): Record<string, string> {
  if (gpus.deviceIds.length > 0) {
    const list = gpus.deviceIds.join(',');
    return { CUDA_VISIBLE_DEVICES: list, NVIDIA_VISIBLE_DEVICES: list };
  }
  // No pinning asked for a GPU workload: the host's default (all of them) stays.
  return gpus.count === 0 ? { CUDA_VISIBLE_DEVICES: '', NVIDIA_VISIBLE_DEVICES: 'void' } : {};
}
