import {
  type AgentDeploymentMetrics,
  emptyHistogram,
  observeLatency,
  statusClassOf,
  type Tensor,
} from '@meridian/protocol';
import { DriftSampler } from './drift-sampler.js';

const minuteOf = (ms: number) =>
  new Date(Math.floor(ms / 60_000) * 60_000).toISOString().replace('.000Z', 'Z');

/**
 * What the data plane tells monitoring about each request of a model it serves (deployment id, version id):
 * the status it answered with queue wait and compute time, aggregated per minute, and a sampled share of its
 * decoded inputs for drift. Nothing here does I/O: the monitoring reporter drains it.
 */
export class DeploymentMonitor {
  private metrics = new Map<string, AgentDeploymentMetrics>();
  readonly drift: DriftSampler;

  constructor(options: { driftSampleRate: number; random?: () => number }) {
    this.drift = new DriftSampler(options.driftSampleRate, options.random);
  }

  /** One answered request; queue and compute are 0 for requests that never reached the model. */
  observe(
    deploymentId: string,
    versionId: string,
    status: number,
    queueUs: number,
    computeUs: number,
    atMs = Date.now(),
  ): void {
    const minute = minuteOf(atMs);
    const key = `${deploymentId}\u0000${versionId}\u0000${minute}`;
    let m = this.metrics.get(key);
    if (!m) {
      m = {
        deploymentId,
        versionId,
        minute,
        requests: {},
        queue: emptyHistogram(),
        compute: emptyHistogram(),
      };
      this.metrics.set(key, m);
    }
    const cls = statusClassOf(status);
    m.requests[cls] = (m.requests[cls] ?? 0) + 1;
    if (status < 300) {
      observeLatency(m.queue, queueUs / 1000);
      observeLatency(m.compute, computeUs / 1000);
    }
  }

  /** Samples the decoded inputs of a request when its turn comes (call before the tensors are transferred). */
  sampleInputs(deploymentId: string, versionId: string, inputs: readonly Tensor[]): void {
    if (this.drift.shouldSample()) this.drift.add(deploymentId, versionId, inputs);
  }

  /** Metrics since the last drain. */
  drainMetrics(): AgentDeploymentMetrics[] {
    const out = [...this.metrics.values()];
    this.metrics = new Map();
    return out;
  }
}
