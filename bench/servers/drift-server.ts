// A data-plane process for bench/drift-sampling.ts: argv[2] is JSON {model, path, key, driftRate}; it serves
// one model on 127.0.0.1 with a DeploymentMonitor sampling `driftRate` of the calls, and reports its port
// over IPC. The monitor is drained every second, as the agent's reporter would, so sketches stay small.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDataPlaneListener } from '../../gpu-agent/src/data-plane/listener.js';
import { InferenceMetrics } from '../../gpu-agent/src/data-plane/metrics.js';
import { serveModel, staticRegistry } from '../../gpu-agent/src/data-plane/models.js';
import { withDataPlaneTimeouts } from '../../gpu-agent/src/data-plane/server-timeouts.js';
import { DeploymentMonitor } from '../../gpu-agent/src/monitoring/deployment-monitor.js';
import { createModelSession } from '../../gpu-agent/src/onnx/session.js';

type Config = { model: string; path: string; key: string; driftRate: number };
const config = JSON.parse(process.argv[2] ?? '{}') as Config;
const session = await createModelSession(config.path, {
  executionProviders: ['cpu'],
  intraOpNumThreads: 1,
  thread: 'auto',
});
const metrics = new InferenceMetrics();
const batching = { maxBatchSize: 1, maxQueueDelayUs: 0, maxQueueSize: 1024, timeoutMs: 30_000 };
const model = serveModel(session, { name: config.model, version: '1' }, batching, metrics);
const monitor = new DeploymentMonitor({ driftSampleRate: config.driftRate });
setInterval(() => {
  monitor.drainMetrics();
  monitor.drift.drain();
}, 1_000).unref();
const key = Buffer.from(config.key, 'hex');
const server = withDataPlaneTimeouts(
  createServer(
    createDataPlaneListener({ models: staticRegistry([model]), metrics, monitor, signingKey: () => key }),
  ),
);
server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
process.on('SIGTERM', () => process.exit(0));
// The benchmark switches sampling on and off between cells of this one process.
process.on('message', (m: { driftRate?: number }) => {
  if (typeof m.driftRate === 'number') {
    monitor.drift.setRate(m.driftRate);
    process.send?.({ driftRate: m.driftRate });
  }
});
