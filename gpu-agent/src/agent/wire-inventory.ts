import type { HostInventory as WireInventory } from '@meridian/protocol';
import type { HostInventory } from '../inventory/host-inventory.js';

const MIB = 1024 * 1024;

/** The host inventory as the agent protocol carries it (the GPU type is the control plane's to derive). */
export function toWireInventory(inventory: HostInventory): WireInventory {
  return {
    gpus: inventory.gpu.gpus.map(({ type: _type, ...gpu }) => gpu),
    cpu: {
      cores: Math.max(1, inventory.cpu.cores),
      memoryMiB: Math.floor(inventory.memory.totalBytes / MIB),
    },
    disk: { freeBytes: inventory.disk.freeBytes, totalBytes: inventory.disk.totalBytes },
  };
}
