// The table lives in the protocol package, shared with the agent that reports the names.
export { GPU_LABELS, gpuTypeOfName as gpuTypeOf, type HostGpuType } from '@meridian/protocol';
