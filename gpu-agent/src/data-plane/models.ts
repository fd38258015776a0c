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
  /** Version `version` of `name` when given, else the newest version of it that is ready. */
  get(name: string, version?: string): ServedModel | undefined;
  list(): ServedModel[];
}

/**
 * Picks from one name's entries (oldest first): the newest ready entry of `version` (any version when
 * absent), else the newest entry at all, so a model that is not ready answers 503 rather than 404.
 */
export function pickModel(entries: readonly ServedModel[], version?: string): ServedModel | undefined {
  const candidates = version === undefined ? entries : entries.filter((m) => m.version === version);
  return candidates.findLast((m) => m.ready) ?? candidates.at(-1);
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
  return {
    get: (name, version) =>
      pickModel(
        models.filter((m) => m.name === name),
        version,
      ),
    list: () => [...models],
  };
}
