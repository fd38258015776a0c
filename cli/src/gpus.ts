import { CliError } from './context.js';
import { wholeNumber } from './numbers.js';

/** Most GPUs one host offers: the API's bound on a deployment replica's or a notebook's GPU count. */
export const MAX_GPU_COUNT = 8;

const CPU_TAKES_NONE = '--gpus needs a GPU type: give --gpu t4, v100 or rtx4090 with it (cpu takes none)';

/**
 * `--gpus N` for `--gpu TYPE`: a whole number from 1 to the API's most, refused here (exit 2) before any
 * request, as is a count for `cpu`, which takes none. Left out, the server's default holds (1 of a GPU type).
 * An undefined type is one not known yet (an existing deployment keeps its own): `requireGpuType` checks it.
 */
export function parseGpuCount(value: string | undefined, gpuType: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const count = wholeNumber(value, '--gpus', 1, MAX_GPU_COUNT);
  requireGpuType(gpuType);
  return count;
}

/** Refuses (exit 2) a GPU count for `cpu`, which takes none. */
export function requireGpuType(gpuType: string | undefined): void {
  if (gpuType === 'cpu') throw new CliError(CPU_TAKES_NONE, 2);
}
