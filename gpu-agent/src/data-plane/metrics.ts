import { Counter, Registry } from 'prom-client';

type Labelled = { inc(value?: number): void };
type ModelCounters = {
  success: Labelled;
  failure: Labelled;
  count: Labelled;
  execCount: Labelled;
  requestUs: Labelled;
  queueUs: Labelled;
  computeUs: Labelled;
};

/** Triton-named Prometheus counters, labelled by model and version. Durations are cumulative µs. */
export class InferenceMetrics {
  readonly registry: Registry;
  private readonly counters: Record<keyof ModelCounters, Counter<'model' | 'version'>>;
  private readonly byModel = new Map<string, ModelCounters>();

  constructor(registry = new Registry()) {
    this.registry = registry;
    const counter = (name: string, help: string) =>
      new Counter({ name, help, labelNames: ['model', 'version'] as const, registers: [registry] });
    this.counters = {
      success: counter('nv_inference_request_success', 'Successful inference requests'),
      failure: counter('nv_inference_request_failure', 'Failed inference requests'),
      count: counter('nv_inference_count', 'Inferences performed (one per batch row)'),
      execCount: counter('nv_inference_exec_count', 'Model executions (batches) performed'),
      requestUs: counter(
        'nv_inference_request_duration_us',
        'Cumulative end-to-end inference request duration',
      ),
      queueUs: counter('nv_inference_queue_duration_us', 'Cumulative time requests waited in the queue'),
      computeUs: counter('nv_inference_compute_infer_duration_us', 'Cumulative model execution time'),
    };
  }

  /** Counters bound to one model version (cached: the hot path does no label lookups). */
  forModel(model: string, version: string): ModelCounters {
    const key = `${model}\u0000${version}`;
    let bound = this.byModel.get(key);
    if (!bound) {
      const c = this.counters;
      const labels = { model, version };
      bound = {
        success: c.success.labels(labels),
        failure: c.failure.labels(labels),
        count: c.count.labels(labels),
        execCount: c.execCount.labels(labels),
        requestUs: c.requestUs.labels(labels),
        queueUs: c.queueUs.labels(labels),
        computeUs: c.computeUs.labels(labels),
      };
      this.byModel.set(key, bound);
    }
    return bound;
  }
}
