import { type BatcherOptions, DynamicBatcher } from '../onnx/batcher.js';
import type { ModelRunner, ModelSignature } from '../onnx/session.js';
import type { InferenceMetrics } from './metrics.js';

/** One model version the data plane serves. */
export type ServedModel = {
  name: string;
  version: string;
  platform: string;
  signature: ModelSignature;
  batcher: DynamicBatcher;
  ready: boolean;
};

/** Where the data plane finds models; the control loop loads and unloads them. */
export interface ModelRegistry {
  get(name: string): ServedModel | undefined;
  list(): ServedModel[];
}

/** Wraps a runner in a batcher whose executions feed the metrics. */
export function serveModel(
  runner: ModelRunner,
  model: { name: string; version: string },
  batching: Omit<BatcherOptions, 'model' | 'onExecute'>,
  metrics: InferenceMetrics,
): ServedModel {
  const counters = metrics.forModel(model.name, model.version);
  const batcher = new DynamicBatcher(runner, {
    ...batching,
    model: model.name,
    onExecute: ({ rows }) => {
      counters.execCount.inc();
      counters.count.inc(rows);
    },
  });
  return { ...model, platform: 'onnxruntime_onnx', signature: runner.signature, batcher, ready: true };
}

/** A registry over a fixed list (tests, benchmarks, single-model agents). */
export function staticRegistry(models: ServedModel[]): ModelRegistry {
  const byName = new Map(models.map((m) => [m.name, m]));
  return { get: (name) => byName.get(name), list: () => [...byName.values()] };
}
