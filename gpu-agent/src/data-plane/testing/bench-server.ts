// A data-plane process for bench/agent-serving.ts: argv[2] is JSON {model, path, threads, thread,
// maxBatchSize, key}; it serves one model on 127.0.0.1 and reports its port over IPC.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createModelSession, type SessionOptions } from '../../onnx/session.js';
import { createDataPlaneListener } from '../listener.js';
import { InferenceMetrics } from '../metrics.js';
import { serveModel, staticRegistry } from '../models.js';
import { withDataPlaneTimeouts } from '../server-timeouts.js';

type Config = {
  model: string;
  path: string;
  threads: number;
  thread: SessionOptions['thread'];
  maxBatchSize: number;
  key: string;
};
const config = JSON.parse(process.argv[2] ?? '{}') as Config;
const session = await createModelSession(config.path, {
  executionProviders: ['cpu'],
  intraOpNumThreads: config.threads,
  thread: config.thread,
});
const metrics = new InferenceMetrics();
const batching = {
  maxBatchSize: config.maxBatchSize,
  // Hold a shrinking batch up to 2 ms: a 110 KB body takes two socket reads, i.e. two loop turns.
  maxQueueDelayUs: config.maxBatchSize > 1 ? 2000 : 0,
  maxQueueSize: 1024,
  timeoutMs: 30_000,
};
const model = serveModel(session, { name: config.model, version: '1' }, batching, metrics);
const key = Buffer.from(config.key, 'hex');
const server = withDataPlaneTimeouts(
  createServer(createDataPlaneListener({ models: staticRegistry([model]), metrics, signingKey: () => key })),
);
server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
process.on('SIGTERM', () => process.exit(0));
process.on('message', (m) => {
  if (m === 'mode') process.send?.({ mode: model.batcher.mode, estimates: model.batcher.policy.estimates });
});
