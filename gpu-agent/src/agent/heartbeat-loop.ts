import type { AgentHeartbeat, HostInventory } from '@meridian/protocol';
import { type ApiClient, describeApiError } from './api-client.js';
import { backoffMs, jitter, sleep } from './backoff.js';
import type { Logger } from './logger.js';

export interface HeartbeatLoopOptions {
  api: ApiClient;
  /** Measured afresh for each heartbeat. */
  inventory: () => Promise<HostInventory>;
  workloads: () => AgentHeartbeat['workloads'];
  /** Where the edge reaches this agent: sent each time, so a restart on another address is routed there. */
  dataPlaneUrl?: string;
  intervalSeconds: number;
  log: Logger;
  /** The desired-state version the control plane holds now, after each heartbeat. */
  onDesiredVersion?: (version: number) => void;
}

/**
 * Heartbeats every interval (the control plane may change it in any answer), backing off with jitter while
 * calls fail. `poke` sends the next one now, e.g. when a workload changed phase: that one carries the
 * inventory measured last (it changes slowly, and measuring took 55–150 ms here), so a replica's phases
 * reach the control plane without waiting for it.
 */
export class HeartbeatLoop {
  private wake: AbortController = new AbortController();
  private poked = false;
  private lastInventory: { inventory: HostInventory; at: number } | undefined;
  private intervalMs: number;
  /** When the last heartbeat was answered (ms since epoch), for readiness and tests. */
  lastSuccessAt: number | undefined;

  constructor(private readonly options: HeartbeatLoopOptions) {
    this.intervalMs = options.intervalSeconds * 1000;
  }

  poke(): void {
    this.poked = true;
    this.wake.abort();
  }

  async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      this.wake = new AbortController();
      const ok = await this.beat().catch((err: unknown) => {
        this.options.log.error('heartbeat could not be built', { error: String(err) });
        return false;
      });
      failures = ok ? 0 : failures + 1;
      const wait = ok ? jitter(this.intervalMs) : backoffMs(failures, 1000, this.intervalMs);
      await sleep(wait, AbortSignal.any([signal, this.wake.signal]));
    }
  }

  private async beat(): Promise<boolean> {
    const last = this.lastInventory;
    const fresh = last !== undefined && Date.now() - last.at < this.intervalMs;
    const cached = this.poked && fresh ? last.inventory : undefined;
    this.poked = false;
    const inventory = cached ?? (await this.options.inventory());
    if (!cached) this.lastInventory = { inventory, at: Date.now() };
    const { dataPlaneUrl } = this.options;
    const body = {
      inventory,
      workloads: this.options.workloads(),
      ...(dataPlaneUrl ? { dataPlaneUrl } : {}),
    };
    const result = await this.options.api.heartbeat(body);
    if (!result.ok) {
      this.options.log.warn('heartbeat failed', { error: describeApiError(result.error) });
      return false;
    }
    this.lastSuccessAt = Date.now();
    this.intervalMs = result.value.heartbeatIntervalSeconds * 1000;
    this.options.onDesiredVersion?.(result.value.desiredStateVersion);
    return true;
  }
}
