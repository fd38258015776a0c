import type { Schema } from '@meridian/sdk';

export type GpuType = Schema<'Deployment'>['gpuType'];

/** Most GPUs one host offers: the API's bound on a deployment replica's or a notebook's GPU count. */
export const MAX_GPU_COUNT = 8;

/** What a deployment replica, a notebook or a session runs on: `t4`, or `t4 × 2` for more than one GPU. */
export function hardwareText({ gpuType, gpuCount }: { gpuType: string; gpuCount: number }): string {
  return gpuCount > 1 ? `${gpuType} × ${gpuCount}` : gpuType;
}

/**
 * The request's `gpuType`, with `gpuCount` for a GPU type only: `cpu` takes none (the API refuses a count
 * for it), so the form's count, hidden for cpu, is left out rather than sent.
 */
export function gpuFields(gpuType: GpuType, gpuCount: number): { gpuType: GpuType; gpuCount?: number } {
  return gpuType === 'cpu' ? { gpuType } : { gpuType, gpuCount };
}
