import { setTimeout as sleep } from 'node:timers/promises';
import type { HealthProbe, Workload } from './types.js';

/** Raised when a workload does not become healthy in time or exits while we wait. */
export class WorkloadNotHealthyError extends Error {
  constructor(
    readonly workloadId: string,
    message: string,
  ) {
    super(`workload ${workloadId}: ${message}`);
    this.name = 'WorkloadNotHealthyError';
  }
}

/** Raised for a workload id the runtime does not know. */
export class WorkloadNotFoundError extends Error {
  constructor(readonly workloadId: string) {
    super(`workload ${workloadId} not found`);
    this.name = 'WorkloadNotFoundError';
  }
}

const POLL_MS = 100;
const ATTEMPT_TIMEOUT_MS = 2_000;

/**
 * Polls `GET http://endpoint/path` until it answers 2xx, bounded by `probe.timeoutMs`. `current` re-reads
 * the workload each round: the endpoint can appear late, and a workload that stopped fails fast instead of
 * running out the clock.
 */
export async function pollHealthy(
  workloadId: string,
  probe: HealthProbe,
  current: () => Promise<Workload | undefined>,
): Promise<Workload> {
  const deadline = Date.now() + probe.timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    const workload = await current();
    if (!workload) throw new WorkloadNotFoundError(workloadId);
    if (workload.state !== 'running') {
      throw new WorkloadNotHealthyError(workloadId, `stopped while waiting (${last})`);
    }
    if (workload.endpoint) {
      const { host, port } = workload.endpoint;
      try {
        const response = await fetch(`http://${host}:${port}${probe.path}`, {
          headers: probe.headers ?? {},
          signal: AbortSignal.timeout(Math.min(ATTEMPT_TIMEOUT_MS, Math.max(1, deadline - Date.now()))),
        });
        await response.body?.cancel();
        if (response.ok) return workload;
        last = `HTTP ${response.status}`;
      } catch (error) {
        last = error instanceof Error ? error.message : String(error);
      }
    }
    await sleep(POLL_MS);
  }
  throw new WorkloadNotHealthyError(
    workloadId,
    `not healthy at ${probe.path} within ${probe.timeoutMs} ms (${last})`,
  );
}
